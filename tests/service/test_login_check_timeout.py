"""A frozen hub reads as the service's 503 within a caller's own timeout (#20): the login
lookup has its own bound, ``Onboarding.login_check_timeout`` (5 s), apart from
``hub_request_timeout`` (20 s), so the collector (which gives up after 10 s) gets the answer."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from harness.process import ProcessExited, free_port, wait_until

from jupyterhub_onboarding.service.handlers import HUB_NOT_ANSWERING

#: The collector's default timeout per hub (CollectApp.timeout).
COLLECTOR_TIMEOUT = 10


@pytest.mark.integration  # starts a stand-in hub and the service as processes
def test_a_new_token_gets_its_503_before_the_collector_gives_up(tmp_path):
    # a hub that accepts connections and never answers: frozen
    frozen = socket.socket()
    frozen.bind(("127.0.0.1", 0))
    frozen.listen(64)
    port = free_port()
    env = {
        **os.environ,
        "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}",
        "JUPYTERHUB_API_TOKEN": "test-token",
        "JUPYTERHUB_API_URL": f"http://127.0.0.1:{frozen.getsockname()[1]}/hub/api",
    }
    log_path = tmp_path / "service.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub_onboarding"],
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base = f"http://127.0.0.1:{port}/services/onboarding/"

    def health() -> httpx.Response:
        if proc.poll() is not None:
            raise ProcessExited(log_path.read_text())
        return httpx.get(f"{base}health", timeout=2)

    try:
        wait_until(health, 60, "the service to answer")
        started = time.monotonic()
        response = httpx.get(
            f"{base}api/v1/status",
            headers={"Authorization": "token a-token-never-seen"},
            timeout=60,
        )
        took = time.monotonic() - started
        assert response.status_code == 503
        assert response.json() == {"status": 503, "message": HUB_NOT_ANSWERING}
        # the default hub_request_timeout (20 s) would have been past the collector's
        assert took < COLLECTOR_TIMEOUT, took
        assert "did not answer a login check within 5s" in log_path.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        frozen.close()
