"""How the hub is used, on a real hub with real single-user servers: sessions, lengths, the
profile and the peak, through a service SIGKILL and a hub restart, in the status, the page
and the CSV."""

from __future__ import annotations

import csv
import io
import re
import signal
from datetime import datetime, timezone

import httpx
import pytest
from harness.hub import HubProcess
from harness.process import wait_until

pytestmark = pytest.mark.integration

ANA, BEN = "usage-ana", "usage-ben"
HOSTILE_PROFILE = '<img src=x onerror=alert("p")>'
#: A session's end is known to within one poll interval (0.5 s here); the hub's timestamps
#: and the test's own clock add a little on top.
PRECISION_S = 2.0
HUB_CONFIG = "c.JupyterHub.allow_named_servers = True\n"


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def now() -> datetime:
    return datetime.now(timezone.utc)


def server_model(hub: HubProcess, user: str, server: str = "") -> dict | None:
    return hub.api("GET", f"users/{user}").json()["servers"].get(server)


def start(hub: HubProcess, user: str, server: str = "", options: dict | None = None) -> datetime:
    """Start a real server with *options* as user_options; its ``started`` from the hub."""
    path = f"users/{user}/servers/{server}" if server else f"users/{user}/server"
    response = hub.api("POST", path, json=options or {})
    assert response.status_code in (201, 202), response.text
    model = wait_until(
        lambda: (lambda m: m if m and m.get("ready") else None)(server_model(hub, user, server)),
        90,
        f"the server {user}/{server} to be ready",
        interval=0.3,
    )
    return parse(model["started"])


def stop(hub: HubProcess, user: str, server: str = "") -> datetime:
    """Stop a server; its stop time is the user's last_activity the hub sets at stop."""
    path = f"users/{user}/servers/{server}" if server else f"users/{user}/server"
    response = hub.api("DELETE", path)
    assert response.status_code in (202, 204), response.text
    wait_until(
        lambda: server_model(hub, user, server) is None,
        60,
        f"the server {user}/{server} to stop",
        interval=0.3,
    )
    return parse(hub.api("GET", f"users/{user}").json()["last_activity"])


def polled_after(hub: HubProcess, moment: datetime) -> dict:
    def fresh(status):
        done = status["tracker"]["last_success_at"]
        return done is not None and parse(done) > moment

    return hub.wait_for_status(fresh, timeout=90)


def csv_rows(client: httpx.Client, hub: HubProcess, month: str) -> dict[str, dict]:
    response = client.get(f"{hub.service_url}usage.csv", params={"month": month})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"].startswith("text/csv")
    return {row["name"]: row for row in csv.DictReader(io.StringIO(response.text))}


def test_sessions_lengths_profile_and_peak_through_restarts(tmp_path):
    hub = HubProcess(tmp_path, hub_config=HUB_CONFIG)
    hub.start()
    try:
        for name in (ANA, BEN):
            hub.login(name).close()
        # ana's first session; ben's named server with a profile starts while it runs
        ana_1_start = start(hub, ANA)
        ben_start = start(hub, BEN, "work", {"profile": "small"})
        hub.wait_for_status(lambda s: s["usage"]["peak_concurrent_servers"] == 2)
        ana_1_end = stop(hub, ANA)
        # a poll sees her without a server before she starts again (a restart within one
        # poll would end the first session at the second's start, as documented)
        polled_after(hub, now())
        # ana's second session, with a hostile profile name
        ana_2_start = start(hub, ANA, options={"profile": HOSTILE_PROFILE})
        ana_2_end = stop(hub, ANA)
        # a poll that began after her second stop has ended both her sessions (the median
        # alone is already there once her first session has ended)
        usage = polled_after(hub, now())["usage"]
        assert usage["sessions"] == 3
        assert usage["users_with_sessions"] == 2
        assert usage["peak_concurrent_servers"] == 2
        ana_lengths = sorted(
            [(ana_1_end - ana_1_start).total_seconds(), (ana_2_end - ana_2_start).total_seconds()]
        )
        # only ana's two sessions have ended: the median lies between them
        median_s = usage["median_session_minutes"] * 60
        assert abs(median_s - sum(ana_lengths) / 2) <= PRECISION_S, (median_s, ana_lengths)
        profiles = {p["name"]: p["sessions"] for p in usage["profiles"]}
        assert profiles == {"small": 1, HOSTILE_PROFILE: 1, "none": 1}

        # the service dies with ben's server running: the same session continues after it
        hub.kill_service(signal.SIGKILL)
        wait_until(
            lambda: httpx.get(f"{hub.service_url}health").status_code == 200,
            60,
            "the hub to restart the service",
        )
        after_kill = polled_after(hub, now())["usage"]
        assert (after_kill["sessions"], after_kill["users_with_sessions"]) == (3, 2)
        assert server_model(hub, BEN, "work") is not None

        # the hub restarts: it stops ben's server, whose session ends then
        stop_requested = now()
        hub.stop()
        stopped = now()
        hub.start()
        status = polled_after(hub, now())
        usage = status["usage"]
        assert server_model(hub, BEN, "work") is None
        assert usage["sessions"] == 3
        assert usage["peak_concurrent_servers"] == 2
        text = str(status)
        assert ANA not in text and BEN not in text  # aggregates only

        admin = hub.login("admin")
        assert admin.get(hub.service_url).status_code == 200  # through the hub's OAuth flow
        month = status["usage"]["month"]
        rows = csv_rows(admin, hub, month)
        assert int(rows[ANA]["sessions"]) == 2 and int(rows[BEN]["sessions"]) == 1
        ana_hours = float(rows[ANA]["server_hours"])
        assert abs(ana_hours * 3600 - sum(ana_lengths)) <= 2 * PRECISION_S
        ben_s = float(rows[BEN]["server_hours"]) * 3600
        earliest, latest = (stop_requested - ben_start), (stopped - ben_start)
        assert earliest.total_seconds() - PRECISION_S <= ben_s
        assert ben_s <= latest.total_seconds() + PRECISION_S
        assert rows[BEN]["most_used_profile"] == "small"
        assert rows[BEN]["last_session_end"] and rows[ANA]["last_session_end"]
        # pinned by the hub's own stop time
        assert abs((parse(rows[ANA]["last_session_end"]) - ana_2_end).total_seconds()) < 0.01

        # the Usage page: the month's figures, the profile, the peak, the table by sessions
        page = admin.get(hub.service_url + "usage", params={"sort": "sessions"})
        assert page.status_code == 200
        html = page.text
        assert 'id="usage-section"' in html
        assert re.search(r'data-figure="sessions">.*?<td class="text-end current">3</td>', html)
        assert re.search(
            r'data-figure="peak_concurrent_servers">.*?<td class="text-end current">2</td>', html
        )
        assert '<td class="label">small</td>' in html
        assert HOSTILE_PROFILE not in html and "&lt;img src=x onerror=alert(" in html
        table = html[html.index('id="usage-users-table"') :]
        assert table.index(ANA) < table.index(BEN)  # ana's two sessions first
        # a bucket's list: both users had under 30 minutes of server time
        bucket = admin.get(
            f"{hub.service_url}usage/users", params={"bucket": "server_minutes:under_30m"}
        )
        assert bucket.status_code == 200
        assert ANA in bucket.text and BEN in bucket.text
        assert "2 counted users" in bucket.text

        # a non-admin may see neither the CSV nor a bucket's list
        member = hub.login(BEN)
        for route in (f"usage.csv?month={month}", "usage/users?bucket=last_login:under_1d"):
            response = member.get(hub.service_url + route)
            assert response.status_code == 403, route
            assert ANA not in response.text
    finally:
        hub.stop()
