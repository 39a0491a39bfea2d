"""The service inside a real JupyterHub with the real proxy: real logins, real servers."""

from __future__ import annotations

import signal
from datetime import datetime, timezone

import httpx
import pytest
from harness.hub import HubProcess, running_hub
from harness.process import wait_until

pytestmark = pytest.mark.integration


def polled_after(hub: HubProcess, moment: datetime) -> dict:
    """The status once the tracker has completed a poll that started after *moment*."""

    def fresh(status):
        done = status["tracker"]["last_success_at"]
        return done is not None and datetime.fromisoformat(done.replace("Z", "+00:00")) > moment

    return hub.wait_for_status(fresh, timeout=60)


def now() -> datetime:
    return datetime.now(timezone.utc)


FIVE = ("admin", "ana", "ben", "cleo", "dev")


def first_value_reached(hub: HubProcess) -> dict:
    """The status once five counted users have logged in (logging in again changes nothing)."""
    for name in FIVE:
        hub.login(name)
    return hub.wait_for_status(lambda s: s["first_value"]["achieved"])


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    config = 'c.Onboarding.excluded_users = {"staff-1"}\n'
    with running_hub(tmp_path_factory.mktemp("hub"), service_config=config) as hub:
        yield hub


@pytest.mark.smoke
def test_one_login_is_counted(tmp_path):
    with running_hub(tmp_path) as hub:
        before = hub.status()
        assert before["first_value"]["users_logged_in"] == 0
        hub.login("smoke-user")
        status = hub.wait_for_status(lambda s: s["first_value"]["users_logged_in"] == 1)
        assert status["mau"]["login"] == 1
        assert status["tracker"]["stale"] is False


def test_listed_users_have_not_logged_in(hub):
    # the admin user is created at hub start with no activity
    moment = now()
    status = polled_after(hub, moment)
    assert status["first_value"]["users_logged_in"] == 0
    assert status["first_value"]["achieved"] is False


def test_exclusions_then_fifth_login_reaches_first_value(hub):
    for name in ("deployment-service-check", "staff-1"):
        hub.login(name)
    moment = now()
    assert polled_after(hub, moment)["first_value"]["users_logged_in"] == 0

    for name in ("admin", "ana", "ben", "cleo"):
        hub.login(name)
    moment = now()
    status = polled_after(hub, moment)
    assert status["first_value"]["users_logged_in"] == 4
    assert status["first_value"]["achieved"] is False

    hub.login("dev")
    status = hub.wait_for_status(lambda s: s["first_value"]["achieved"])
    assert status["first_value"]["users_logged_in"] == 5
    achieved_at = datetime.fromisoformat(
        status["first_value"]["achieved_at"].replace("Z", "+00:00")
    )
    assert achieved_at <= now()
    assert 0 <= status["first_value"]["days_to_first_value"] < 1
    assert status["mau"]["login"] == 5
    assert status["active_users"]["24h"] == 5
    assert status["billing"]["estimated_usage_fee"] == 50.0
    assert status["generating_value"] is True


def test_deleted_user_stays_counted_and_first_value_never_regresses(hub):
    status = first_value_reached(hub)
    achieved_at = status["first_value"]["achieved_at"]
    assert hub.api("DELETE", "users/cleo").status_code == 204
    # a full sync notices the deletion; force one by restarting the service
    hub.kill_service(signal.SIGKILL)
    wait_until(
        lambda: httpx.get(f"{hub.service_url}health").status_code == 200,
        60,
        "the hub to restart the service",
    )
    moment = now()
    status = polled_after(hub, moment)
    assert status["first_value"]["users_logged_in"] == 5
    assert status["first_value"]["achieved_at"] == achieved_at


def test_status_api_needs_a_token_with_access(hub):
    anonymous = hub.status_response("", follow_redirects=False)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/json")
    assert "token" in anonymous.json()["message"]

    bogus = hub.status_response("not-a-token")
    assert bogus.status_code == 401

    # a real user's token without access to the service
    token = hub.api("POST", "users/ana/tokens", json={"scopes": ["read:users:name!user=ana"]})
    assert token.status_code == 201, token.text
    denied = hub.status_response(token.json()["token"])
    assert denied.status_code == 403
    assert denied.json()["status"] == 403


def test_status_has_no_usernames(hub):
    status = first_value_reached(hub)
    text = str(status)
    for name in ("ana", "ben", "dev", "staff-1", "admin'"):
        assert f"'{name}" not in text


def test_health_needs_no_login(hub):
    response = httpx.get(f"{hub.service_url}health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_unknown_route_is_json_404(hub):
    response = httpx.get(f"{hub.service_url}api/v1/nothing")
    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_admins_not_counted_when_configured(tmp_path):
    with running_hub(tmp_path, service_config="c.Onboarding.count_admins = False") as hub:
        hub.login("admin")
        hub.login("member")
        status = hub.wait_for_status(lambda s: s["mau"]["login"] >= 1)
        moment = now()
        status = polled_after(hub, moment)
        assert status["first_value"]["users_logged_in"] == 1


def test_server_basis_with_real_single_user_servers(tmp_path):
    config = 'c.Onboarding.first_value_basis = "server"\nc.Onboarding.first_value_threshold = 1\n'
    with running_hub(tmp_path, service_config=config) as hub:
        hub.login("runner")
        status = polled_after(hub, now())
        assert status["first_value"]["users_logged_in"] == 1
        assert status["first_value"]["achieved"] is False  # logged in, no server yet
        hub.start_server("runner")
        status = hub.wait_for_status(lambda s: s["first_value"]["achieved"], timeout=60)
        assert status["first_value"]["basis"] == "server"
        assert status["first_value"]["users_started_server"] == 1
        assert status["mau"]["server"] == 1
        hub.stop_server("runner")
        status = polled_after(hub, now())
        assert status["mau"]["server"] == 1  # had a running server this month
        assert status["first_value"]["achieved"] is True


def test_restart_keeps_data_and_live_since(tmp_path):
    hub = HubProcess(tmp_path)
    hub.start()
    try:
        for name in ("a1", "a2", "a3"):
            hub.login(name)
        first = hub.wait_for_status(lambda s: s["first_value"]["users_logged_in"] == 3)
    finally:
        hub.stop()
    hub.start()  # same directories, same database
    try:
        again = polled_after(hub, now())
        assert again["first_value"]["users_logged_in"] == 3
        assert again["first_value"]["live_since"] == first["first_value"]["live_since"]
        assert again["mau"]["login"] == 3
    finally:
        hub.stop()


def test_postgresql_database(tmp_path, postgres):
    url = postgres.create_database()
    with running_hub(tmp_path, service_config=f"c.Onboarding.db_url = {url!r}") as hub:
        hub.login("pg-one")
        hub.login("pg-two")
        hub.wait_for_status(lambda s: s["first_value"]["users_logged_in"] == 2)
        hub.kill_service()
        wait_until(
            lambda: httpx.get(f"{hub.service_url}health").status_code == 200,
            60,
            "the hub to restart the service",
        )
        status = polled_after(hub, now())
        assert status["first_value"]["users_logged_in"] == 2


def test_no_deprecated_api_in_the_services_log(hub):
    """The service uses no deprecated JupyterHub, tornado or traitlets API: a warning that
    points at the package's own code would show in the log (the test hub turns them on)."""
    hub.login("deprecation-check")
    hub.wait_for_status(lambda s: s["first_value"]["users_logged_in"] >= 1)
    lines = hub.log_path.read_text(errors="replace").splitlines()
    own = [
        line for line in lines if "DeprecationWarning" in line and "jupyterhub_onboarding" in line
    ]
    assert own == []


def test_listed_in_the_hubs_services_menu_for_admins_only(hub):
    admin_home = hub.login("admin").get("/hub/home")
    member_home = hub.login("ben").get("/hub/home")
    assert admin_home.status_code == member_home.status_code == 200
    assert 'href="/services/onboarding/"' in admin_home.text
    assert "/services/onboarding/" not in member_home.text


def test_a_database_of_release_0_1_keeps_its_figures(tmp_path):
    """A hub that ran release 0.1 upgrades to this one: the same service database, the same
    figures (first value, who logged in, the MAU history), and counting goes on."""
    import shutil
    from pathlib import Path

    service_dir = tmp_path / "service"
    service_dir.mkdir()
    fixture = Path(__file__).resolve().parents[1] / "data" / "service-0.1.sqlite"
    shutil.copy(fixture, service_dir / "jupyterhub_onboarding.sqlite")
    # the same exclusions as when the figures were recorded
    config = 'c.Onboarding.excluded_users = {"staff"}\n'
    with running_hub(tmp_path, service_config=config) as hub:
        status = polled_after(hub, now())
        first = status["first_value"]
        assert first["live_since"] == "2026-10-20T09:00:00Z"
        assert first["achieved"] is True
        assert first["achieved_at"] == "2026-11-03T10:00:00Z"
        assert first["users_logged_in"] == 7  # gus was deleted later: he still counts
        history = {entry["month"]: entry for entry in status["mau"]["history"]}
        assert (history["2026-10"]["login"], history["2026-10"]["server"]) == (4, 2)
        assert (history["2026-11"]["login"], history["2026-11"]["server"]) == (7, 1)
        hub.login("new-after-upgrade")
        later = hub.wait_for_status(lambda s: s["first_value"]["users_logged_in"] == 8)
        assert later["first_value"]["achieved_at"] == "2026-11-03T10:00:00Z"
