"""The demo (``make demo`` runs ``demo/run.py``) starts real single-user servers, and its
scripted users make the figures move within the first minutes; it stops cleanly."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from harness.process import processes_in, wait_until
from harness.statusschema import assert_valid_status

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
#: The users demo/run.py logs in.
DEMO_USERS = ("ada", "grace", "alan", "katherine", "edsger", "barbara")


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def accepts(port: int) -> bool:
    """True while something listens on *port* (a bind test would trip over TIME_WAIT)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def demo_port() -> int:
    """A port whose neighbours the demo also uses (+1 proxy API, +2 service, +81 hub) are free."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port + 81 < 65536 and all(port_is_free(port + d) for d in (1, 2, 81)):
            return port
    raise RuntimeError("no free ports for the demo")


def test_demo_moves_the_server_figures_and_stops_cleanly(tmp_path):
    state = tmp_path / "demo-state"
    port = demo_port()
    token = secrets.token_hex(16)
    env = dict(
        os.environ,
        ONBOARDING_DEMO_STATE=str(state),
        ONBOARDING_DEMO_PORT=str(port),
        ONBOARDING_DEMO_TOKEN=token,
        PYTHONUNBUFFERED="1",
    )
    env.pop("JUPYTERHUB_API_TOKEN", None)
    log = open(tmp_path / "demo.log", "wb")  # noqa: SIM115 - closed below
    demo = subprocess.Popen(
        [sys.executable, str(ROOT / "demo" / "run.py")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"token {token}"}

    def status() -> dict | None:
        if demo.poll() is not None:
            raise AssertionError(f"the demo exited with {demo.returncode}")
        response = httpx.get(f"{url}/services/onboarding/api/v1/status", headers=headers)
        if response.status_code != 200:
            return None
        assert_valid_status(response.json())  # ends the wait at once when invalid
        return response.json()

    def log_tail() -> str:
        return (tmp_path / "demo.log").read_text(errors="replace")[-4000:]

    def moved(status: dict | None) -> bool:
        """The first three users have logged in and one has started a server (a server can
        appear before the second and third logins are polled)."""
        return bool(
            status
            and status["mau"]["server"] >= 1
            and status["first_value"]["users_started_server"] >= 1
            and status["first_value"]["users_logged_in"] >= 3
            and status["active_users"]["24h"] >= 3
            # ada, in both of the demo's groups, logs in first: both groups are active
            and len(status["usage"].get("groups") or []) == 2
        )

    def running_servers() -> list[str]:
        """The demo users whose server runs (the demo stops and starts them in turn)."""
        models = [httpx.get(f"{url}/hub/api/users/{name}", headers=headers) for name in DEMO_USERS]
        return [m.json()["name"] for m in models if m.status_code == 200 and m.json()["servers"]]

    try:
        try:
            # within two minutes of the start: real servers, on the server basis
            wait_until(
                lambda: (lambda s: s if moved(s) else None)(status()),
                120,
                "three logged-in users and a server-basis user in the demo's status",
                interval=1,
            )
            assert wait_until(running_servers, 30, "a demo user's server to run")
            wait_until(
                lambda: processes_in(state / "home"),
                30,
                "a single-user server process in the demo's homes",
            )
        except (TimeoutError, AssertionError) as error:
            raise AssertionError(f"{error}\ndemo log:\n{log_tail()}") from None
    finally:
        demo.send_signal(signal.SIGTERM)
        try:
            code = demo.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait(timeout=10)
            raise AssertionError(f"the demo did not stop on SIGTERM\n{log_tail()}") from None
        finally:
            log.close()
    assert code == 0, log_tail()
    # the hub stopped the servers it started, and itself
    wait_until(lambda: not processes_in(state / "home"), 30, "the demo's servers to stop")
    for listening in (port, port + 81):  # the proxy and the hub
        wait_until(lambda p=listening: not accepts(p), 30, f"port {listening} to close")
