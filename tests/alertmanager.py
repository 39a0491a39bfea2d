"""A real Alertmanager for tests, and a webhook receiver served by the test itself.

Usage::

    with WebhookReceiver() as hooks, running_alertmanager(tmp_path, hooks.url) as am:
        # point Prometheus at am.address (``alerting: alertmanagers``)
        note = hooks.wait_for(lambda n: n["receiver"] == "account-management", timeout=60)

The server is Debian's ``/usr/bin/prometheus-alertmanager`` on a free loopback port with a
temporary data directory, clustering off. Its configuration is the shipped
``docs/alertmanager/alertmanager.yml`` with the receivers' email and webhook addresses
replaced by *webhook_url* (``{receiver}`` in it is replaced by each receiver's name) and the
grouping delays shortened; routes, matchers, grouping keys and templates stay as shipped.
Start-up waits on ``/-/ready``; :func:`find_alertmanager` tells whether it is installed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml
from hubproc import free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent
ALERTMANAGER_DIR = ROOT / "docs" / "alertmanager"
CONFIG_FILE = ALERTMANAGER_DIR / "alertmanager.yml"
TEMPLATE_FILE = ALERTMANAGER_DIR / "onboarding.tmpl"

#: Grouping delays for tests: notifications within seconds instead of minutes.
FAST_TIMING = {"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1m"}


def find_alertmanager() -> str | None:
    """The Alertmanager binary (Debian's package names it prometheus-alertmanager), or None."""
    for name in ("prometheus-alertmanager", "alertmanager"):
        found = shutil.which(name) or (
            f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
        )
        if found:
            return found
    return None


def find_amtool() -> str | None:
    return shutil.which("amtool") or (
        "/usr/bin/amtool" if Path("/usr/bin/amtool").exists() else None
    )


def delivery_config(webhook_url: str, timing: dict[str, str] = FAST_TIMING) -> dict[str, Any]:
    """The shipped configuration with every receiver delivering to *webhook_url* only."""
    config = yaml.safe_load(CONFIG_FILE.read_text())
    config["templates"] = [str(TEMPLATE_FILE)]
    config.get("global", {}).pop("smtp_smarthost", None)

    def faster(route: dict[str, Any]) -> None:
        for key in timing:
            if key in route:
                route[key] = timing[key]
        for child in route.get("routes", []):
            faster(child)

    config["route"].update(timing)
    faster(config["route"])
    for receiver in config["receivers"]:
        name = receiver["name"]
        for kind in list(receiver):
            if kind.endswith("_configs"):
                del receiver[kind]
        receiver["webhook_configs"] = [
            {"url": webhook_url.replace("{receiver}", name), "send_resolved": True}
        ]
    return config


class AlertmanagerServer:
    """An Alertmanager process with *config* (a dict) on a free loopback port."""

    def __init__(self, workdir: Path, config: dict[str, Any], binary: str) -> None:
        self.workdir = Path(workdir)
        self.config = config
        self.binary = binary
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.address}"
        self.config_path = self.workdir / "alertmanager.yml"
        self.log_path = self.workdir / "alertmanager.log"
        self.proc: subprocess.Popen | None = None
        self.client = httpx.Client(base_url=self.url, timeout=10)

    def start(self, timeout: float = 60) -> AlertmanagerServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed once the child has it
        self.proc = subprocess.Popen(
            [
                self.binary,
                f"--config.file={self.config_path}",
                f"--storage.path={self.workdir / 'data'}",
                f"--web.listen-address={self.address}",
                "--cluster.listen-address=",  # no gossip: one instance, no network ports
                "--log.level=debug",
            ],
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        try:
            wait_until(self._ready, timeout, "Alertmanager /-/ready", interval=0.1)
        except (TimeoutError, RuntimeError) as error:
            self.stop()
            raise RuntimeError(
                f"Alertmanager did not start ({error}); log:\n{self.log_tail()}"
            ) from None
        return self

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"alertmanager exited with {self.proc.returncode}")
        try:
            return self.client.get("/-/ready").status_code == 200
        except httpx.TransportError:
            return False

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts Alertmanager holds now (API v2)."""
        response = self.client.get("/api/v2/alerts")
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None
        self.client.close()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def running_alertmanager(
    workdir: Path, webhook_url: str, binary: str, config: dict[str, Any] | None = None
) -> Iterator[AlertmanagerServer]:
    server = AlertmanagerServer(workdir, config or delivery_config(webhook_url), binary)
    server.start()
    try:
        yield server
    except BaseException:
        print(f"Alertmanager log tail:\n{server.log_tail()}")
        raise
    finally:
        server.stop()


class WebhookReceiver:
    """An HTTP server on a free loopback port keeping every notification posted to it.

    ``url`` ends in ``/{receiver}`` so each Alertmanager receiver posts to a path of its own;
    each kept notification is the webhook JSON with ``"path"`` added.
    """

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                body["path"] = self.path
                with received._lock:
                    received.notifications.append(body)
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/{{receiver}}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def received(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.notifications)

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 60, what: str = ""
    ) -> dict[str, Any]:
        """The first notification matching *predicate*, waiting up to *timeout* seconds."""
        return wait_until(
            lambda: next((n for n in self.received() if predicate(n)), None),
            timeout,
            f"a notification {what} (received so far: {json.dumps(self.received())[:2000]})",
            interval=0.2,
        )
