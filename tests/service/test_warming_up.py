"""The service answers at once whatever its database does, so the hub's start never waits on
it (#20): while the database does not answer, a real hub with the real proxy serves, the
service's health says "warming up", its status API answers 503 saying so and its page says
so; once the database answers, the figures come."""

from __future__ import annotations

import sqlite3

import httpx
import pytest
from harness.hub import HubProcess, running_hub
from harness.process import wait_until

pytestmark = pytest.mark.integration


def assert_warming_up(hub: HubProcess, admin: httpx.Client) -> None:
    assert httpx.get(f"{hub.url}/hub/api/", timeout=10).status_code == 200
    health = httpx.get(f"{hub.service_url}health", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "warming up"
    status = httpx.get(
        f"{hub.service_url}api/v1/status",
        headers={"Authorization": f"token {hub.status_token}"},
        timeout=10,
    )
    assert status.status_code == 503
    assert status.json()["message"].startswith("warming up")
    page = admin.get(hub.service_url)
    assert page.status_code == 200, page.text[:500]
    assert "The service is warming up" in page.text


def test_a_database_that_does_not_answer_holds_nothing_back(tmp_path):
    """The service's SQLite file held under an exclusive lock for as long as the test wants:
    every read of it waits. The hub starts and serves anyway."""
    hub = HubProcess(tmp_path, wait_for_figures=False)
    holder = sqlite3.connect(hub.service_dir / "jupyterhub_onboarding.sqlite", timeout=0)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        hub.start()
        admin = hub.login("admin")
        assert_warming_up(hub, admin)
    finally:
        holder.rollback()
        holder.close()
    try:
        status = hub.wait_for_status(lambda s: s["first_value"]["users_logged_in"] >= 1)
        assert status["tracker"]["last_success_at"]
        page = admin.get(hub.service_url)
        assert "warming up" not in page.text
        assert httpx.get(f"{hub.service_url}health", timeout=10).json()["status"] == "ok"
    finally:
        hub.stop()


def test_a_postgresql_down_at_start_is_retried_while_serving(tmp_path, postgres):
    url = postgres.create_database()
    postgres.stop()
    try:
        with running_hub(
            tmp_path, service_config=f"c.Onboarding.db_url = {url!r}\n", wait_for_figures=False
        ) as hub:
            admin = hub.login("admin")
            assert_warming_up(hub, admin)
            # once the first attempt has failed (it may still be under way at first)
            wait_until(
                lambda: (
                    "cannot be reached"
                    in httpx.get(
                        f"{hub.service_url}api/v1/status",
                        headers={"Authorization": f"token {hub.status_token}"},
                        timeout=10,
                    ).json()["message"]
                ),
                60,
                "the status to say the database cannot be reached",
            )
            postgres.start()
            hub.wait_for_status(lambda s: s["first_value"]["users_logged_in"] >= 1, timeout=120)
            wait_until(
                lambda: "warming up" not in admin.get(hub.service_url).text, 30, "the figures"
            )
    finally:
        if postgres.proc is None:  # the next tests share the server
            postgres.start()
