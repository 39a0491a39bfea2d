"""A port already taken at start is retried with one clear line, never an exit (#20): the
hub stops itself when a managed service exits at start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import httpx
import pytest
from harness.process import ProcessExited, free_port, wait_until


@pytest.mark.integration  # starts the service as a process
def test_a_taken_port_is_retried_with_a_clear_line_until_it_is_free(tmp_path):
    port = free_port()
    taken = socket.socket()
    taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    taken.bind(("127.0.0.1", port))
    taken.listen()
    log_path = tmp_path / "service.log"
    env = {
        **os.environ,
        "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}",
        "JUPYTERHUB_API_TOKEN": "test-token",
        "JUPYTERHUB_API_URL": f"http://127.0.0.1:{free_port()}/hub/api",
    }
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub_onboarding"],
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def logged(text: str, times: int = 1):
        def check() -> bool:
            if proc.poll() is not None:
                raise ProcessExited(f"the service exited: {log_path.read_text()}")
            return log_path.read_text().count(text) >= times

        return check

    try:
        line = f"Cannot listen on http://127.0.0.1:{port}: port {port} is in use"
        # tried again, not given up on
        wait_until(logged(line, times=2), 60, "two tries at the taken port")
        assert "Traceback" not in log_path.read_text()
        taken.close()
        health = wait_until(
            lambda: httpx.get(f"http://127.0.0.1:{port}/services/onboarding/health", timeout=2),
            90,
            "the service to answer once the port is free",
        )
        assert health.status_code == 200
    finally:
        taken.close()
        proc.terminate()
        proc.wait(timeout=30)
