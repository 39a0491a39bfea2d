"""Usage per group on a real hub: groups made through the hub's API, real logins and real
single-user servers; the per-group MAU, sessions and server-hours exact, a user in two
groups counted in both, no group names outside the admin views until they are enabled, and
never a username."""

from __future__ import annotations

import json
import signal
from datetime import datetime, timezone
from urllib.parse import quote

import httpx
import pytest
from harness.hub import HubProcess
from harness.process import wait_until

pytestmark = pytest.mark.integration

ANA, BEN, CAI, DEE = "grp-ana", "grp-ben", "grp-cai", "grp-dee"
#: physics: ana and ben; maths: ana and cai; seminar: dee, who never logs in.
GROUPS = {"physics-101": [ANA, BEN], "maths <b>&": [ANA, CAI], "seminar": [DEE]}
#: The hub's start and stop times are to the poll (0.5 s here); server-hours are rounded
#: to a thousandth of an hour (1.8 s either way).
PRECISION_S = 4.0


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def run_server(hub: HubProcess, name: str) -> float:
    """Start and stop *name*'s server; the session's length in seconds, as the hub saw it."""
    hub.start_server(name)
    started = parse(hub.api("GET", f"users/{name}").json()["servers"][""]["started"])
    hub.stop_server(name)
    stopped = parse(hub.api("GET", f"users/{name}").json()["last_activity"])
    return (stopped - started).total_seconds()


def by_sessions(groups: list[dict]) -> list[tuple]:
    return sorted((g["mau_login"], g["mau_server"], g["sessions"]) for g in groups)


def test_usage_per_group_on_a_real_hub(tmp_path):
    hub = HubProcess(tmp_path)
    hub.start()
    try:
        response = hub.api("POST", "users", json={"usernames": [ANA, BEN, CAI, DEE]})
        assert response.status_code == 201, response.text
        for group, members in GROUPS.items():
            response = hub.api("POST", f"groups/{quote(group)}", json={"users": members})
            assert response.status_code == 201, response.text
        for name in (ANA, BEN, CAI):
            hub.login(name).close()
        ana = run_server(hub, ANA)
        ben = run_server(hub, BEN)
        stopped = datetime.now(timezone.utc)

        def settled(status: dict) -> bool:
            # a poll that began after ben's stop has ended his session (until then it is
            # open, runs until now and gives no length to the median)
            polled = status["tracker"]["last_success_at"]
            groups = status["usage"].get("groups") or []
            return (
                polled is not None
                and parse(polled) > stopped
                and by_sessions(groups) == [(2, 1, 1), (2, 2, 2)]
            )

        status = hub.wait_for_status(settled, timeout=90)
        groups = status["usage"]["groups"]
        # names are not sent by default: two unnamed entries, physics first (more sessions)
        assert all("name" not in g for g in groups)
        text = json.dumps(status)
        for word in ("physics", "maths", "seminar", ANA, BEN, CAI, DEE):
            assert word not in text
        physics, maths = groups
        assert (physics["mau_login"], physics["mau_server"], physics["sessions"]) == (2, 2, 2)
        assert abs(physics["server_hours"] * 3600 - (ana + ben)) <= 2 * PRECISION_S
        assert abs(physics["median_session_minutes"] * 60 - (ana + ben) / 2) <= PRECISION_S
        # ana is in both groups: her session counts in maths too; cai only logged in
        assert (maths["mau_login"], maths["mau_server"], maths["sessions"]) == (2, 1, 1)
        assert abs(maths["server_hours"] * 3600 - ana) <= PRECISION_S
        # the groups do not add up to the hub: ana counts twice
        assert status["usage"]["sessions"] == 2 and status["mau"]["login"] == 3
        metrics = httpx.get(
            f"{hub.service_url}metrics",
            headers={"Authorization": f"token {hub.status_token}"},
            timeout=10,
        ).text
        assert "physics" not in metrics and ANA not in metrics

        # names enabled: the service restarts with the setting and keeps its figures
        config = hub.service_dir / "jupyterhub_onboarding_config.py"
        config.write_text(config.read_text() + "\nc.Onboarding.report_group_names = True\n")
        old = hub.kill_service(signal.SIGTERM)
        wait_until(
            lambda: (pid := hub.service_pid()) is not None and pid != old,
            60,
            "the hub to start the service again",
        )
        status = hub.wait_for_status(
            lambda s: any("name" in g for g in s["usage"].get("groups") or []), timeout=90
        )
        named = {g["name"]: g for g in status["usage"]["groups"]}
        assert set(named) == {"physics-101", "maths <b>&"}
        assert named["physics-101"] == {**physics, "name": "physics-101"}
        assert named["maths <b>&"] == {**maths, "name": "maths <b>&"}
        text = json.dumps(status)
        for name in (ANA, BEN, CAI, DEE):
            assert name not in text
    finally:
        hub.stop()
