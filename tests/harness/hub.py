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
- ``status(token=None)``, ``wait_for_status(predicate, timeout)``: every document served is
  checked against ``docs/status.schema.json`` (:func:`harness.statusschema.assert_valid_status`)
- ``api(method, path, **kwargs)``: the hub REST API as the test admin service
- ``start_server(name)``, ``stop_server(name)``: real single-user servers through the hub
- ``wait_for_figures=False``: start() returns once the service answers, warming up or not
- ``service_pid()``, ``kill_service()``: the managed service's process (the hub restarts it)
- ``stop()``; ``start()`` again reuses the same directories (and so the same databases);
  stopping ends the proxy and single-user servers too, even those of a hub that died

``hub_config`` is appended to the generated ``jupyterhub_config.py`` and ``service_config`` to
the service's ``jupyterhub_onboarding_config.py`` (its working directory is
``workdir / "service"``); a callable ``service_config`` is called with the hub each time the
files are written (e.g. ``lambda hub: f"c.Onboarding.public_url = {hub.url!r}"``: a port
taken at start means new ports and so a new URL). :data:`VIEWER_HUB_CONFIG` gives ``carol``
the ``onboarding-viewer`` role (she may open the service but is no admin).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from harness.process import ManagedProcess, StartError, free_port, wait_until
from harness.statusschema import assert_valid_status

PASSWORD = "onboarding-test-password"
BIN = Path(sys.executable).parent
SERVICE_SCOPES = ["list:users", "read:users", "read:servers"]
#: What the hub, the proxy or the service logs when a port it was given is taken.
PORT_TAKEN = re.compile(r"Address already in use|EADDRINUSE|port \d+ is in use")
#: ``carol`` may open the service (the ``onboarding-viewer`` role, through a group) but is
#: not an admin; append it to a hub's ``hub_config``.
VIEWER_HUB_CONFIG = """
c.JupyterHub.load_groups = {"onboarding-viewers": {"users": ["carol"]}}
c.JupyterHub.load_roles.append({
    "name": "onboarding-viewer",
    "scopes": ["access:services!service=onboarding"],
    "groups": ["onboarding-viewers"],
})
"""


class HubProcess(ManagedProcess):
    """JupyterHub with the proxy and this service, on free loopback ports."""

    label = "the hub"

    def __init__(
        self,
        workdir: Path,
        *,
        service_config: str | Callable[[HubProcess], str] = "",
        hub_config: str = "",
        admin_users: tuple[str, ...] = ("admin",),
        poll_interval: float = 0.5,
        service_name: str = "onboarding",
        wait_for_figures: bool = True,
    ) -> None:
        super().__init__(workdir, "hub.log")
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
    {{"name": "test-admin", "scopes": ["admin:users", "admin:servers", "admin:groups", "list:users",
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
            service + "\n" + self.service_text()
        )

    def service_text(self) -> str:
        """The service's own configuration; a callable ``service_config`` is given the hub,
        so what it writes follows the hub's ports (new ones when a port was taken)."""
        if callable(self.service_config):
            return self.service_config(self)
        return self.service_config

    # -- life cycle ------------------------------------------------------------------------

    def command(self) -> list[str]:
        return [str(BIN / "jupyterhub"), "-f", str(self.workdir / "jupyterhub_config.py")]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
        return env

    def ready(self) -> bool:
        """The hub's API answers, and the service answers behind the proxy (with its figures
        read, unless ``wait_for_figures`` is false)."""
        if httpx.get(f"{self.url}/hub/api/", timeout=2).status_code != 200:
            return False
        health = httpx.get(f"{self.service_url}health", timeout=2)
        if health.status_code != 200:
            return False
        return not self.wait_for_figures or health.json()["status"] == "ok"

    def start(self, timeout: float = 90, attempts: int = 3) -> HubProcess:
        """Start the hub and wait for it and the service; on a port taken in between by
        another process (free ports are only free when asked), again on new ports."""
        for attempt in range(1, attempts + 1):
            log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
            try:
                return super().start(timeout)
            except StartError:
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

    def status_response(self, token: str | None = None, **kwargs: Any) -> httpx.Response:
        """``GET api/v1/status`` with *token* (the status reader's by default; ``""`` for
        none; *kwargs* go to ``httpx.get``); a document served (status 200) must match the
        published schema, or this raises :class:`harness.statusschema.InvalidStatus`."""
        token = self.status_token if token is None else token
        headers = {"Authorization": f"token {token}"} if token else {}
        kwargs.setdefault("timeout", 10)
        response = httpx.get(f"{self.service_url}api/v1/status", headers=headers, **kwargs)
        if response.status_code == 200:
            assert_valid_status(response.json())
        return response

    def status(self, token: str | None = None) -> dict:
        """The status document (checked against the schema); an HTTP error raises."""
        response = self.status_response(token)
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
        self.remember_descendants()

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
