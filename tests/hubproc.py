"""A real JupyterHub, with the real configurable-http-proxy, running this service.

Usage::

    with running_hub(tmp_path, service_config="c.Onboarding.first_value_threshold = 3") as hub:
        hub.login("alice")                         # through the hub's login form
        status = hub.wait_for_status(lambda s: s["first_value"]["users_logged_in"] >= 1)

``HubProcess`` attributes and helpers:

- ``url``: the hub's public URL (the proxy), ``service_url``: ``{url}/services/onboarding/``
- ``status_token``: a token holding only ``access:services!service=onboarding``
- ``admin_token``: a token of a test service allowed to manage users and servers
- ``login(name)``: an ``httpx.Client`` logged in through ``/hub/login`` (dummy login,
  password ``PASSWORD``); users listed in ``admin_users`` (default ``{"admin"}``) are admins
- ``status(token=None)``, ``wait_for_status(predicate, timeout)``
- ``api(method, path, **kwargs)``: the hub REST API as the test admin service
- ``start_server(name)``, ``stop_server(name)``: real single-user servers through the hub
- ``wait_for_figures=False``: start() returns once the service answers, warming up or not
- ``service_pid()``, ``kill_service()``: the managed service's process (the hub restarts it)
- ``stop()``; ``start()`` again reuses the same directories (and so the same databases)

``hub_config`` is appended to the generated ``jupyterhub_config.py`` and ``service_config`` to
the service's ``jupyterhub_onboarding_config.py`` (its working directory is
``workdir / "service"``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

PASSWORD = "onboarding-test-password"
BIN = Path(sys.executable).parent
SERVICE_SCOPES = ["list:users", "read:users", "read:servers"]
#: Every hub started in this test session, in order (conftest shows a failing test's logs).
STARTED: list[HubProcess] = []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


#: What the hub, the proxy or the service logs when a port it was given is taken.
PORT_TAKEN = re.compile(r"Address already in use|EADDRINUSE|port \d+ is in use")


class ProcessExited(RuntimeError):
    """The process being waited for is gone: stop waiting at once."""


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval=0.1) -> Any:
    """Poll *predicate* until it returns something truthy; fail loudly after *timeout*.

    Errors raised by *predicate* mean "not yet", except ProcessExited, which ends the wait.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except ProcessExited:
            raise
        except Exception as error:  # the condition may not be checkable yet
            last_error = error
        else:
            if value:
                return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what} (last error: {last_error})")


class HubProcess:
    def __init__(
        self,
        workdir: Path,
        *,
        service_config: str = "",
        hub_config: str = "",
        admin_users: tuple[str, ...] = ("admin",),
        poll_interval: float = 0.5,
        service_name: str = "onboarding",
        wait_for_figures: bool = True,
    ) -> None:
        self.workdir = Path(workdir)
        self.service_dir = self.workdir / "service"
        self.service_config = service_config
        self.hub_config = hub_config
        self.admin_users = admin_users
        self.poll_interval = poll_interval
        self.service_name = service_name
        #: start() waits until the service has read its figures (not only answers health)
        self.wait_for_figures = wait_for_figures
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.service_url = f"{self.url}/services/{service_name}/"
        self.status_token = secrets.token_hex(16)
        self.admin_token = secrets.token_hex(16)
        self.proc: subprocess.Popen | None = None
        self.log_path = self.workdir / "hub.log"
        self._write_config()

    # -- configuration ---------------------------------------------------------------------

    def _write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.service_dir.mkdir(exist_ok=True)
        (self.workdir / "home").mkdir(exist_ok=True)
        service_port, hub_port, proxy_api_port = free_port(), free_port(), free_port()
        config = f"""
import sys
c = get_config()  # noqa
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {self.port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.auth_token = {secrets.token_hex(16)!r}
c.JupyterHub.cookie_secret = bytes.fromhex({secrets.token_hex(32)!r})
c.JupyterHub.db_url = "sqlite:///{self.workdir / "jupyterhub.sqlite"}"
c.JupyterHub.pid_file = "{self.workdir / "jupyterhub.pid"}"
c.JupyterHub.redirect_to_server = False
c.JupyterHub.cleanup_servers = True
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {PASSWORD!r}
c.Authenticator.allow_all = True
c.Authenticator.admin_users = {set(self.admin_users)!r}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{self.workdir / "home"}/{{username}}"
c.Spawner.cmd = ["{BIN / "jupyterhub-singleuser"}"]
c.Spawner.args = ["--allow-root", "--ServerApp.open_browser=False"]
c.Spawner.start_timeout = 60
c.Spawner.http_timeout = 60
c.JupyterHub.services = [
    {{
        "name": {self.service_name!r},
        "url": "http://127.0.0.1:{service_port}",
        "command": [sys.executable, "-m", "jupyterhub_onboarding"],
        "cwd": "{self.service_dir}",
        "display": True,
        "oauth_no_confirm": True,
        # deprecations show in the log (test_no_deprecated_api_in_the_services_log)
        "environment": {{"PYTHONUNBUFFERED": "1", "PYTHONWARNINGS": "default::DeprecationWarning"}},
    }},
    {{"name": "status-reader", "api_token": {self.status_token!r}}},
    {{"name": "test-admin", "api_token": {self.admin_token!r}}},
]
c.JupyterHub.load_roles = [
    {{"name": "onboarding-service", "scopes": {SERVICE_SCOPES!r},
      "services": [{self.service_name!r}]}},
    {{"name": "status-reader", "scopes": ["access:services!service={self.service_name}"],
      "services": ["status-reader"]}},
    {{"name": "test-admin", "scopes": ["admin:users", "admin:servers", "list:users",
      "read:users", "tokens", "access:services"], "services": ["test-admin"]}},
]
"""
        (self.workdir / "jupyterhub_config.py").write_text(config + "\n" + self.hub_config)
        service = f"""
c = get_config()  # noqa
c.Onboarding.poll_interval = {self.poll_interval}
c.Onboarding.activity_overlap = 300
c.Onboarding.stale_after = 30
c.Onboarding.hub_request_timeout = 5
c.Onboarding.log_level = "DEBUG"
"""
        (self.service_dir / "jupyterhub_onboarding_config.py").write_text(
            service + "\n" + self.service_config
        )

    # -- life cycle ------------------------------------------------------------------------

    def start(self, timeout: float = 90, attempts: int = 3) -> HubProcess:
        """Start the hub and wait for it and the service; on a port taken in between by
        another process (free ports are only free when asked), again on new ports."""
        for attempt in range(1, attempts + 1):
            log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
            try:
                return self._start_once(timeout)
            except RuntimeError:
                text = self.log_path.read_bytes()[log_start:].decode(errors="replace")
                if attempt == attempts or not PORT_TAKEN.search(text):
                    raise
                self._use_new_ports()
        raise AssertionError("not reached")

    def _use_new_ports(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.service_url = f"{self.url}/services/{self.service_name}/"
        self._write_config()

    def _start_once(self, timeout: float) -> HubProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        env = dict(os.environ)
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
        self.proc = subprocess.Popen(
            [str(BIN / "jupyterhub"), "-f", str(self.workdir / "jupyterhub_config.py")],
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        log.close()
        STARTED.append(self)
        try:
            wait_until(self._hub_up, timeout, "the hub API")
            wait_until(self._service_up, timeout, "the onboarding service behind the proxy")
        except (TimeoutError, ProcessExited):
            self.stop()
            raise RuntimeError(f"hub did not start; log tail:\n{self.log_tail()}") from None
        return self

    def _hub_up(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise ProcessExited(f"jupyterhub exited early:\n{self.log_tail()}")
        return httpx.get(f"{self.url}/hub/api/", timeout=2).status_code == 200

    def _service_up(self) -> bool:
        response = httpx.get(f"{self.service_url}health", timeout=2)
        if response.status_code != 200:
            return False
        return not self.wait_for_figures or response.json()["status"] == "ok"

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None

    # -- hub interactions ------------------------------------------------------------------

    def login(self, name: str, password: str = PASSWORD) -> httpx.Client:
        """Log *name* in through the hub's login form; the follow-up request marks activity."""
        client = httpx.Client(base_url=self.url, follow_redirects=True, timeout=30)
        client.get("/hub/login")
        xsrf = client.cookies.get("_xsrf", path="/hub/") or client.cookies.get("_xsrf")
        response = client.post(
            "/hub/login",
            data={"username": name, "password": password, "_xsrf": xsrf},
        )
        if response.status_code != 200 or "/hub/login" in str(response.url):
            raise AssertionError(f"login of {name!r} failed: {response.status_code} {response.url}")
        return client

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"token {self.admin_token}"}
        return httpx.request(
            method, f"{self.url}/hub/api/{path.lstrip('/')}", headers=headers, timeout=60, **kwargs
        )

    def status(self, token: str | None = None) -> dict:
        response = httpx.get(
            f"{self.service_url}api/v1/status",
            headers={"Authorization": f"token {token or self.status_token}"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()

    def wait_for_status(self, predicate: Callable[[dict], bool], timeout: float = 60) -> dict:
        last: list[dict] = []

        def matches() -> dict | None:
            status = self.status()
            last[:] = [status]
            return status if predicate(status) else None

        try:
            return wait_until(matches, timeout, "the status to match")
        except TimeoutError as error:
            raise TimeoutError(f"{error}; last status: {last[0] if last else None}") from None

    def start_server(self, name: str, timeout: float = 90) -> None:
        response = self.api("POST", f"users/{name}/server")
        assert response.status_code in (201, 202), response.text
        wait_until(
            lambda: self.api("GET", f"users/{name}").json()["servers"].get("", {}).get("ready"),
            timeout,
            f"the server of {name} to be ready",
            interval=0.5,
        )

    def stop_server(self, name: str, timeout: float = 60) -> None:
        response = self.api("DELETE", f"users/{name}/server")
        assert response.status_code in (202, 204), response.text
        wait_until(
            lambda: not self.api("GET", f"users/{name}").json()["servers"],
            timeout,
            f"the server of {name} to stop",
            interval=0.5,
        )

    def service_pid(self) -> int | None:
        """The managed service's process id (a child of the hub)."""
        if self.proc is None:
            return None
        out = subprocess.run(
            ["pgrep", "-f", "-P", str(self.proc.pid), "jupyterhub_onboarding"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        return int(out[0]) if out else None

    def kill_service(self, sig: int = signal.SIGKILL) -> int:
        pid = wait_until(self.service_pid, 30, "the service process")
        os.kill(pid, sig)
        return pid


@contextlib.contextmanager
def running_hub(workdir: Path, **kwargs: Any) -> Iterator[HubProcess]:
    hub = HubProcess(workdir, **kwargs)
    hub.start()
    try:
        yield hub
    finally:
        hub.stop()


def dump(data: Any) -> str:
    return json.dumps(data, indent=1, sort_keys=True)
