"""Who the service lets in, and what it logs, when attacked: a real hub with the real proxy.

- secrets sent in requests (tokens, OAuth codes and states) never reach the log, and a
  request cannot write a line of its own into it;
- a token narrowed to ``access:services!service=onboarding`` opens the status API, never
  the pages that name users, even when an admin created it;
- while the hub is frozen (SIGSTOP) requests answer 503 within ``hub_request_timeout``
  instead of hanging, and work again once it resumes;
- while the hub is down (or failing), a request gets a plain 503 that does not name the
  hub's address;
- a page view does not log JupyterHub's XSRF notice as a warning every time.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from harness.hub import HubProcess, running_hub
from harness.process import ManagedProcess, free_port, wait_until
from tornado.web import decode_signed_value

from jupyterhub_onboarding.service.handlers import HUB_CHECK_FAILED, HUB_NOT_ANSWERING

pytestmark = pytest.mark.integration

COOKIE = "service-onboarding"
LISTED = "zz-listed-user-1"
#: the test hub's Onboarding.hub_request_timeout
HUB_REQUEST_TIMEOUT = 5
#: A line the service writes, as a forged one would imitate it.
FORGED = "[I 2026-01-01 00:00:00.000 Onboarding] Full poll recorded 999 users FORGED"
# the login cache expires after a second, so a frozen hub is asked again almost at once
SERVICE_CONFIG = "c.HubOAuth.cache_max_age = 1\n"


def oauth_login(hub: HubProcess, name: str) -> httpx.Client:
    """Log in to the hub, then to the service through the hub's OAuth flow."""
    client = hub.login(name)
    response = client.get(hub.service_url)
    assert response.status_code == 200, response.text[:300]
    assert client.cookies.get(COOKIE, path="/services/onboarding/"), "no service cookie"
    return client


def service_cookie_token(hub: HubProcess, client: httpx.Client) -> str:
    """The hub token inside the service's signed login cookie of *client*."""
    secret = (hub.service_dir / "jupyterhub_onboarding_cookie_secret").read_bytes().strip()
    cookie = client.cookies.get(COOKIE, path="/services/onboarding/")
    return decode_signed_value(secret, COOKIE, cookie).decode()


def log_text(hub: HubProcess) -> str:
    return hub.log_path.read_text(errors="replace")


def once_written(path: Path, text: str) -> str:
    """The content of the log file *path* once it contains *text*."""

    def content() -> str | None:
        found = path.read_text(errors="replace")
        return found if text in found else None

    return wait_until(content, 20, f"{text!r} in {path}")


def logged_so_far(hub: HubProcess) -> str:
    """The hub's log (which the service writes to) with every line of the requests made.

    A last request with a marker in its query string is refused with a 401, which tornado
    logs with the query string; once that line is in, so are the lines before it.
    """
    marker = secrets.token_hex(8)
    assert httpx.get(f"{hub.service_url}api/v1/status?marker={marker}").status_code == 401
    return once_written(hub.log_path, f"?marker={marker}")


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> Iterator[HubProcess]:
    with running_hub(tmp_path_factory.mktemp("auth-hub"), service_config=SERVICE_CONFIG) as hub:
        hub.login(LISTED).close()
        hub.wait_for_status(lambda s: s["first_value"]["users_logged_in"] >= 1)
        yield hub


@pytest.fixture(scope="module")
def admin(hub: HubProcess) -> Iterator[httpx.Client]:
    client = oauth_login(hub, "admin")
    yield client
    client.close()


# -- 1. secrets never reach the log ------------------------------------------------------------


def test_tokens_codes_and_states_never_reach_the_log(hub, admin):
    """At DEBUG (the test hub's level), the noisiest: the library logs most there."""
    url = hub.service_url
    assert httpx.get(f"{url}api/v1/status?token=LEAKME-0001").status_code == 401
    response = hub.status_response("LEAKME-0002")
    assert response.status_code == 401
    response = httpx.get(f"{url}oauth_callback?code=LEAKME-0003&state=LEAKME-0004")
    assert response.status_code == 403  # no state cookie: refused
    response = httpx.get(
        f"{url}?token=LEAKME-0005", headers={"Authorization": "bearer LEAKME-0006"}
    )
    assert response.status_code in (302, 401, 403)
    # a complete OAuth login of another browser, and page views with the admin's cookie
    second = oauth_login(hub, "admin")
    assert admin.get(url).status_code == 200
    text = logged_so_far(hub)
    sensitive = [
        *(f"LEAKME-000{n}" for n in range(1, 7)),
        service_cookie_token(hub, admin),
        service_cookie_token(hub, second),
        admin.cookies.get(COOKIE, path="/services/onboarding/"),
        hub.status_token,
        hub.admin_token,
    ]
    second.close()
    assert [secret for secret in sensitive if secret in text] == []
    # whatever else was logged with a secret's name shows no value (the hub writes [secret])
    exposed = re.findall(r"[?&;](?:token|code|state)=(?!\[redacted\]|\[secret\])[^&\s]+", text)
    assert exposed == []
    # the requests were logged: redacted, not left out
    assert "/oauth_callback?code=[redacted]&state=[redacted] (" in text
    assert "/api/v1/status?token=[redacted] (" in text


def test_a_request_cannot_forge_a_log_line(hub):
    response = httpx.get(
        f"{hub.service_url}oauth_callback",
        params={"error": "x", "error_description": f"oops\n{FORGED}\r\n{FORGED}\u2028{FORGED}"},
    )
    assert response.status_code == 400
    assert "FORGED" not in response.text
    text = logged_so_far(hub)
    assert not [line for line in text.splitlines() if line.startswith(FORGED)]
    assert f"Error in oauth: oops\\n{FORGED}\\r\\n{FORGED}\\u2028{FORGED}" in text


# -- 2. a narrowed token does not see usernames -----------------------------------------------


def admin_token(hub: HubProcess, *scopes: str) -> str:
    """A new token of the admin user; with *scopes*, narrowed to them."""
    body = {"scopes": list(scopes)} if scopes else {}
    response = hub.api("POST", "users/admin/tokens", json=body)
    assert response.status_code == 201, response.text
    return response.json()["token"]


def get(url: str, token: str) -> httpx.Response:
    return httpx.get(url, headers={"Authorization": f"token {token}"}, timeout=30)


def test_a_narrowed_admin_token_gets_the_status_but_no_usernames(hub, admin):
    narrowed = admin_token(hub, "access:services!service=onboarding")
    # the hub itself refuses this token its user list
    assert get(f"{hub.url}/hub/api/users", narrowed).status_code == 403
    # the status API is what such a token is for (the collector's token)
    status = hub.status_response(narrowed, timeout=30)
    assert status.status_code == 200 and LISTED not in status.text
    for route in ("", "usage", "usage/users", "summary", "summary.txt"):
        response = get(hub.service_url + route, narrowed)
        assert response.status_code == 403, (route, response.status_code)
        assert LISTED not in response.text, route
    page = get(hub.service_url, narrowed)
    assert page.headers["content-type"].startswith("text/html")
    assert "read:users" in page.text

    # narrowed to one user's model only: still not the hub's users
    filtered = admin_token(hub, "access:services!service=onboarding", "read:users!user=admin")
    assert get(hub.service_url, filtered).status_code == 403


def test_tokens_that_may_read_users_and_the_admins_browser_see_the_page(hub, admin):
    for token in (
        admin_token(hub),  # the admin's own permissions, unrestricted
        admin_token(hub, "access:services!service=onboarding", "read:users"),
    ):
        # the per-user table of the Usage page names the hub's users
        response = get(hub.service_url + "usage", token)
        assert response.status_code == 200, response.text[:300]
        assert LISTED in response.text
    response = admin.get(hub.service_url + "usage")
    assert response.status_code == 200 and LISTED in response.text


# -- 3. a frozen hub -------------------------------------------------------------------------


def timed(request) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = request()
    return response, time.monotonic() - started


def test_requests_answer_503_while_the_hub_is_frozen_then_recover(hub, admin):
    url = hub.service_url
    token = admin_token(hub)
    assert hub.status_response(token, timeout=30).status_code == 200
    assert admin.get(url).status_code == 200
    pid = hub.proc.pid

    def refused() -> tuple[httpx.Response, float] | None:
        response, took = timed(lambda: hub.status_response(token, timeout=30))
        return (response, took) if response.status_code == 503 else None

    os.kill(pid, signal.SIGSTOP)
    try:
        # the cached login lasts a second; after it the hub is asked, and does not answer
        status, took = wait_until(refused, 60, "the status API to give up on the frozen hub")
        assert took < HUB_REQUEST_TIMEOUT + 5, took
        assert status.headers["content-type"].startswith("application/json")
        assert status.json() == {"status": 503, "message": HUB_NOT_ANSWERING}

        page, took = timed(lambda: admin.get(url, timeout=30))
        assert page.status_code == 503 and took < HUB_REQUEST_TIMEOUT + 5, (page, took)
        assert page.headers["content-type"].startswith("text/html")
        assert "The hub is not answering; try again shortly." in page.text

        # a login callback asks the hub too; meanwhile every other request is served
        callback: list[httpx.Response] = []
        thread = threading.Thread(
            target=lambda: callback.append(
                get(f"{url}oauth_callback?code=c&state=s", "not-a-known-token")
            )
        )
        started = time.monotonic()
        thread.start()
        answered = []  # (seconds since the callback was sent, status, seconds it took)
        while thread.is_alive():
            health, took = timed(lambda: httpx.get(f"{url}health", timeout=10))
            answered.append((time.monotonic() - started, health.status_code, took))
            thread.join(0.2)
        assert all(code == 200 and took < 2 for _, code, took in answered), answered
        assert any(at > 2 for at, _, _ in answered), "the callback was not in flight"
        assert callback and callback[0].status_code == 503, callback
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_until(
        lambda: hub.status_response(token, timeout=30).status_code == 200,
        60,
        "the status API again",
    )
    assert admin.get(url).status_code == 200


def test_a_login_callback_of_an_admin_already_logged_in_returns_to_the_page(hub, admin):
    """The callback resolves who is logged in (awaited, bounded) when its state is gone."""
    response = admin.get(
        f"{hub.service_url}oauth_callback?code=old&state=used", follow_redirects=False
    )
    assert response.status_code == 302, response.text[:300]
    assert response.headers["location"] == "/services/onboarding/"


# -- 10. the hub down: a plain 503 -------------------------------------------------------------


class FailingHub(ThreadingHTTPServer):
    """A hub API that answers every request with a 500 (a hub that is up but broken)."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = b'{"status": 500, "message": "database is locked"}'
                self.send_response(500)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                return None

        super().__init__(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server_address[1]


class HublessService(ManagedProcess):
    """The service on its own, its hub API at *hub_port* on the loopback interface."""

    label = "the service without its hub"

    def __init__(self, workdir: Path, hub_port: int) -> None:
        super().__init__(workdir, "service.log")
        self.hub_port = hub_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/services/onboarding/"

    def prepare(self) -> None:
        (self.workdir / "jupyterhub_onboarding_config.py").write_text(
            'c.Onboarding.log_level = "INFO"\nc.Onboarding.hub_request_timeout = 5\n'
        )

    def command(self) -> list[str]:
        return [sys.executable, "-m", "jupyterhub_onboarding"]

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "JUPYTERHUB_API_TOKEN": "service-token-" + "0" * 20,
            "JUPYTERHUB_API_URL": f"http://127.0.0.1:{self.hub_port}/hub/api",
            "JUPYTERHUB_CLIENT_ID": "service-onboarding",
            "JUPYTERHUB_SERVICE_NAME": "onboarding",
            "JUPYTERHUB_SERVICE_PREFIX": "/services/onboarding/",
            "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{self.port}",
            "PYTHONUNBUFFERED": "1",
        }

    def ready(self) -> bool:
        return httpx.get(f"{self.url}health", timeout=2).status_code == 200


@pytest.fixture(params=["down", "failing"])
def hubless_service(request, tmp_path) -> Iterator[tuple[str, str, Path, int]]:
    """The service with its hub down (nothing listens) or failing (every answer a 500)."""
    failing = FailingHub() if request.param == "failing" else None
    if failing is not None:
        failing.thread.start()
    hub_port = failing.port if failing is not None else free_port()
    service = HublessService(tmp_path, hub_port)
    try:
        service.start()
        yield request.param, service.url, service.log_path, hub_port
    finally:
        service.stop()
        if failing is not None:
            failing.shutdown()
            failing.server_close()


def test_an_unknown_token_while_the_hub_is_down_gets_a_plain_503(hubless_service):
    hub_state, url, log_path, hub_port = hubless_service
    message = HUB_NOT_ANSWERING if hub_state == "down" else HUB_CHECK_FAILED
    internal = [f"127.0.0.1:{hub_port}", "/hub/api", socket.gethostname(), "Failed to"]
    status = get(f"{url}api/v1/status", "unknown-token-0001")
    assert status.status_code == 503, status.text
    assert status.json() == {"status": 503, "message": message}
    page = get(url, "unknown-token-0002")
    assert page.status_code == 503
    assert f"{message.capitalize()}." in page.text
    for response in (status, page):
        assert [name for name in internal if name in response.text] == []
    # the detail is in the log, as a warning; the token is not
    log = once_written(log_path, "Could not check a login")
    detail = "Failed to connect" if hub_state == "down" else "Failed to check authorization"
    assert re.search(rf"^\[W .* Could not check a login with the hub: .*{detail}", log, re.M)
    assert "unknown-token-000" not in log


# -- Also: JupyterHub's XSRF notice ------------------------------------------------------------

SERVICE_XSRF_NOTICE = re.compile(
    r"^\[([DIWEC]) [\d-]+ [\d:.]+ tornado\.application\] Skipping XSRF check", re.M
)


def test_page_views_do_not_log_the_xsrf_notice_as_a_warning_each_time(hub, admin):
    for _ in range(3):
        assert admin.get(hub.service_url).status_code == 200
    # the service's lines (the hub logs the same notice for its own pages, as "JupyterHub")
    notices = SERVICE_XSRF_NOTICE.findall(log_text(hub))
    assert notices.count("W") <= 1, notices
    # the notice did fire for these views (the service logs at DEBUG here)
    assert notices.count("D") >= 2, notices
