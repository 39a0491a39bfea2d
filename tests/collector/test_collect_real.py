"""The collector with real parts: its HTML report in Chromium, and real hubs (JupyterHub, the
proxy and the service) beside broken ones, for rows and monthly PDFs."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from datetime import timedelta

import httpx
import pytest
import yaml
from harness.browser import async_chromium_context
from harness.collector import (
    HOSTILE,
    SUMMARY,
    good_status,
    mixed_hubs,
    new_token,
    run_cli,
    write_hubs,
)

from jupyterhub_onboarding.collector.app import PollSettings
from jupyterhub_onboarding.core import fees
from jupyterhub_onboarding.core.clock import utcnow

pytestmark = pytest.mark.integration


async def test_html_report_opens_in_chromium_without_console_errors(tmp_path, stand_in):
    hubs_file, env = mixed_hubs(tmp_path, stand_in, with_hang=False)
    hubs = yaml.safe_load(hubs_file.read_text())["hubs"]
    stand_in.tokens["hostile"] = new_token()
    stand_in.documents["hostile"] = good_status()
    hubs.append(
        {"name": HOSTILE, "hub_url": stand_in.hub_url("ok", "hostile"), "token_env": "T_HOSTILE"}
    )
    write_hubs(hubs_file, hubs)
    env["T_HOSTILE"] = stand_in.tokens["hostile"]
    run = await run_cli(
        "--hubs", str(hubs_file), "--format", "html", "--output", "report.html",
        "--timeout", "2", "--retries", "0",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    report = tmp_path / "report.html"

    problems: list[str] = []
    requested: list[str] = []
    async with async_chromium_context(tmp_path / "chromium-profile") as context:
        page = await context.new_page()
        page.on(
            "console",
            lambda message: (
                problems.append(f"{message.type}: {message.text}")
                if message.type in ("error", "warning")
                else None
            ),
        )
        page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
        page.on("request", lambda request: requested.append(request.url))
        await page.goto(report.as_uri(), wait_until="load")
        assert await page.locator("img").count() == 0
        assert await page.locator("script").count() == 0
        names = await page.locator("table.hubs tbody tr td:first-child").all_inner_texts()
        dialogs = await page.evaluate("() => typeof window.alert")
    assert problems == []
    assert requested == [report.as_uri()], "the report loads nothing else"
    assert dialogs == "function"
    # Shown as text; failures first, then the check-in due, then the rest, by name.
    assert names == ["down", "e401", "e500", "garbage", "beta", HOSTILE, "alpha"]


@pytest.fixture(scope="module")
def real_hubs(tmp_path_factory):
    """Two real hubs with this service behind the real proxy, started together."""
    from concurrent.futures import ThreadPoolExecutor

    from harness.hub import HubProcess

    hubs = [
        HubProcess(
            tmp_path_factory.mktemp("hub-a"),
            service_config="c.Onboarding.first_value_threshold = 2\n",
        ),
        HubProcess(tmp_path_factory.mktemp("hub-b")),
    ]
    with ThreadPoolExecutor(len(hubs)) as pool:
        futures = [pool.submit(hub.start) for hub in hubs]
        errors = [future.exception() for future in futures]
    try:
        if any(errors):
            raise RuntimeError(f"a hub did not start: {[e for e in errors if e]}")
        yield hubs
    finally:
        for hub in hubs:
            hub.stop()


async def test_collect_from_real_hubs_and_broken_ones(tmp_path, stand_in, real_hubs):
    hub_a, hub_b = real_hubs
    for name in ("ada", "bob", "cyd"):
        hub_a.login(name).close()
    status_a = await asyncio.to_thread(
        hub_a.wait_for_status,
        lambda s: s["first_value"]["users_logged_in"] >= 3 and s["mau"]["login"] >= 3,
        90,
    )
    status_b = await asyncio.to_thread(hub_b.status)
    (tmp_path / "b.token").write_text(hub_b.status_token)
    hubs_file = write_hubs(
        tmp_path / "hubs.yaml",
        [
            {"name": "hub-a", "hub_url": hub_a.url, "token_env": "HUB_A_TOKEN"},
            {
                "name": "hub-b",
                "status_url": f"{hub_b.url}/services/onboarding/api/v1/status",
                "token_file": "b.token",
            },
            {"name": "hub-a-wrong-token", "hub_url": hub_a.url, "token_env": "WRONG_TOKEN"},
            {"name": "hang", "hub_url": stand_in.hub_url("hang"), "token_env": "WRONG_TOKEN"},
        ],
    )
    env = {"HUB_A_TOKEN": hub_a.status_token, "WRONG_TOKEN": new_token()}
    args = ("--hubs", str(hubs_file), "--timeout", "3", "--retries", "0", "--log-level", "INFO")
    run = await run_cli(*args, "--format", "json", cwd=tmp_path, env=env)
    assert run.returncode == 1, run.stderr
    for token in (hub_a.status_token, hub_b.status_token, hub_a.admin_token):
        assert token not in run.stdout and token not in run.stderr
    rows = {hub["hub"]: hub for hub in json.loads(run.stdout)["hubs"]}
    a, b = rows["hub-a"], rows["hub-b"]
    assert a["error"] is None and b["error"] is None, run.stdout
    assert a["url"] == hub_a.url and b["url"] == hub_b.url
    assert a["first_value_achieved"] is True
    assert a["first_value_date"] == status_a["first_value"]["achieved_at"][:10]
    assert a["mau_login"] == status_a["mau"]["login"] >= 3
    assert a["active_30d"] == status_a["active_users"]["30d"] >= 3
    assert a["estimated_usage_fee"] == fees.usage_fee(a["mau_login"])
    assert a["service_version"] == status_a["version"]
    assert b["first_value_achieved"] is False and b["mau_login"] == status_b["mau"]["login"]
    assert b["check_in_due"] is status_b["first_value"]["check_in_due"]
    assert b["tracker_stale"] is status_b["tracker"]["stale"]
    assert rows["hub-a-wrong-token"]["reachable"] is True
    assert re.match(r"HTTP 40[13]: token refused", rows["hub-a-wrong-token"]["error"])
    assert rows["hang"]["error"] == "timed out after 3 s"
    (summary,) = SUMMARY.findall(run.stderr)
    assert summary[:3] == ("4", "2", "2")
    assert float(summary[4]) <= PollSettings(timeout=3, retries=0).worst_case_seconds() + 0.5

    # The terminal table of the same hubs: failures first, then the two real hubs.
    run = await run_cli(*args, cwd=tmp_path, env=env)
    assert run.returncode == 1, run.stderr
    lines = run.stdout.splitlines()
    assert lines[2] == "Events in the next 14 days: none"
    body = lines[6:10]
    assert [line.split()[0] for line in body] == ["hang", "hub-a-wrong-token", "hub-a", "hub-b"]
    hub_a_line = body[2].split()
    assert hub_a_line[1] == "ok" and hub_a_line[2] == a["first_value_date"]
    assert str(a["mau_login"]) in hub_a_line and f"{a['estimated_usage_fee']:,.2f}" in hub_a_line
    assert " ".join(lines[-1].split()[:7]) == "TOTAL (4 hubs) 2 failed 1 achieved"

    # An admin of hub A plans an exam through the events API: the report lists it first
    # and in hub A's row.
    token = await asyncio.to_thread(admin_user_token, hub_a)
    start = (utcnow() + timedelta(days=5)).replace(microsecond=0)
    planned = await asyncio.to_thread(
        httpx.post,
        f"{hub_a.service_url}api/v1/events",
        headers={"Authorization": f"token {token}"},
        json={
            "title": "Midterm exam",
            "kind": "exam",
            "start": start.isoformat(),
            "end": (start + timedelta(hours=2)).isoformat(),
            "expected_attendees": 120,
            "checklist": {"resources": True},
        },
        timeout=30,
    )
    assert planned.status_code == 201, planned.text
    run = await run_cli(*args, "--format", "json", cwd=tmp_path, env=env)
    document = json.loads(run.stdout)
    (event,) = document["events"]
    assert (event["hub"], event["title"], event["kind"]) == ("hub-a", "Midterm exam", "exam")
    assert event["start"] == planned.json()["start"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert 4.9 < event["days_until"] <= 5.0
    assert (event["expected_attendees"], event["checklist_done"], event["checklist_total"]) == (
        120,
        1,
        4,
    )
    rows = {hub["hub"]: hub for hub in document["hubs"]}
    assert rows["hub-a"]["next_event_title"] == "Midterm exam"
    assert rows["hub-a"]["next_event_start"] == event["start"]
    assert rows["hub-b"]["next_event_title"] is None and rows["hub-b"]["error"] is None
    run = await run_cli(*args, cwd=tmp_path, env=env)
    lines = run.stdout.splitlines()
    assert lines[2] == "Events in the next 14 days:"
    assert lines[5].split()[:3] == ["hub-a", "Midterm", "exam"]
    assert [line.split()[0] for line in lines[9:13]] == [
        "hang",
        "hub-a-wrong-token",
        "hub-a",
        "hub-b",
    ]


def admin_user_token(hub) -> str:
    """A token of the hub's admin user (made through the hub's REST API)."""
    hub.api("POST", "users/admin")  # exists already or is created
    response = hub.api("POST", "users/admin/tokens", json={"note": "collector test"})
    assert response.status_code == 201, response.text
    return response.json()["token"]


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs Debian's poppler-utils")
async def test_collect_monthly_pdfs_from_real_hubs_and_a_broken_one(tmp_path, stand_in, real_hubs):
    """Two real hubs and one that answers garbage: a PDF per real hub, and a summary whose
    rows and totals are right; exit status 1 as for every format when a hub fails."""
    hub_a, hub_b = real_hubs
    hub_a.login("ada").close()
    status_a = await asyncio.to_thread(hub_a.wait_for_status, lambda s: s["mau"]["login"] >= 1, 90)
    status_b = await asyncio.to_thread(hub_b.status)
    month = status_a["mau"]["month"]
    hubs_file = write_hubs(
        tmp_path / "hubs.yaml",
        [
            {"name": "Hub A #eval(1) <b>", "hub_url": hub_a.url, "token_env": "HUB_A_TOKEN"},
            {"name": "hub-b", "hub_url": hub_b.url, "token_env": "HUB_B_TOKEN"},
            {"name": "broken", "hub_url": stand_in.hub_url("garbage"), "token_env": "HUB_A_TOKEN"},
        ],
    )
    env = {"HUB_A_TOKEN": hub_a.status_token, "HUB_B_TOKEN": hub_b.status_token}
    out = tmp_path / "reports"
    out.mkdir()
    args = ("--hubs", str(hubs_file), "--timeout", "5", "--retries", "0", "--month", month)
    run = await run_cli(*args, "--format", "pdf", "--output-dir", str(out), cwd=tmp_path, env=env)
    assert run.returncode == 1, run.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        f"Hub-A-eval-1-b-{month}.pdf",
        f"hub-b-{month}.pdf",
        f"summary-{month}.pdf",
    ]

    def text(name: str) -> str:
        done = subprocess.run(
            ["pdftotext", "-layout", str(out / name), "-"], capture_output=True, check=True
        )
        return " ".join(done.stdout.decode().split())

    a = text(f"Hub-A-eval-1-b-{month}.pdf")
    assert "Hub A #eval(1) <b>" in a and f"MAU (login) {status_a['mau']['login']} " in a
    assert f"Estimated usage fee ${status_a['billing']['estimated_usage_fee']:,.2f}" in a
    assert "ada" not in a.split()
    b = text(f"hub-b-{month}.pdf")
    assert f"MAU (login) {status_b['mau']['login']} " in b and "First value not reached" in b
    summary = text(f"summary-{month}.pdf")
    # in the hubs' table the broken hub first (it needs action), with its error; then the
    # others by name (the events ahead, listed before the table, may name hubs too)
    hubs = summary[summary.index("Hubs, those needing action first") :]
    assert hubs.index("broken") < hubs.index("Hub A #eval(1) <b>") < hubs.index("hub-b")
    assert "broken error: malformed JSON" in summary
    total_login = status_a["mau"]["login"] + status_b["mau"]["login"]
    assert re.search(rf"Total 1 failed \d reached {total_login} ", summary), summary
    for token in (hub_a.status_token, hub_b.status_token):
        assert token not in run.stdout + run.stderr

    # --format html with --output-dir: the same files as HTML, into a directory it creates
    html_dir = tmp_path / "html" / "december"
    run = await run_cli(
        *args, "--format", "html", "--output-dir", str(html_dir), cwd=tmp_path, env=env
    )
    assert run.returncode == 1, run.stderr
    page = (html_dir / f"Hub-A-eval-1-b-{month}.html").read_text()
    assert "Hub A #eval(1) &lt;b&gt;" in page and "Estimated usage fee" in page
    summary_page = (html_dir / f"summary-{month}.html").read_text()
    assert "broken" in summary_page
    assert not (html_dir / f"broken-{month}.html").exists()
    # hub names open the hubs' own reports beside the summary, not the hubs
    assert f'href="hub-b-{month}.html">hub-b</a>' in summary_page
    assert f'href="{hub_b.url}' not in summary_page
