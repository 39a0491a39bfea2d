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
Start-up waits on ``/-/ready`` (:class:`harness.process.HttpProcess`);
:func:`find_alertmanager` tells whether it is installed.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from harness import ROOT
from harness.process import HttpProcess, wait_until

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


class AlertmanagerServer(HttpProcess):
    """An Alertmanager process with *config* (a dict) on a free loopback port."""

    label = "Alertmanager"
    ready_path = "/-/ready"

    def __init__(self, workdir: Path, config: dict[str, Any], binary: str) -> None:
        super().__init__(workdir, "alertmanager.log")
        self.config = config
        self.binary = binary
        self.config_path = self.workdir / "alertmanager.yml"

    def prepare(self) -> None:
        self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))

    def command(self) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.path={self.workdir / 'data'}",
            f"--web.listen-address={self.address}",
            "--cluster.listen-address=",  # no gossip: one instance, no network ports
            "--log.level=debug",
        ]

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts Alertmanager holds now (API v2)."""
        response = self.client.get("/api/v2/alerts")
        response.raise_for_status()
        return response.json()


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
