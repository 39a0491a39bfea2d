"""The collector's fixtures: stand-in status endpoints (plain and TLS) and a database on the
session's PostgreSQL server; their helpers are in ``harness.collector``."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from harness.collector import StandIn, start_stand_in, stop_stand_in
from harness.components import require_binary


@pytest_asyncio.fixture
async def stand_in() -> AsyncIterator[StandIn]:
    endpoint, server = await start_stand_in()
    try:
        yield endpoint
    finally:
        await stop_stand_in(endpoint, server)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made with openssl."""
    require_binary("openssl", "openssl")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest_asyncio.fixture
async def tls_stand_in(tls_files: tuple[Path, Path]) -> AsyncIterator[StandIn]:
    cert, key = tls_files
    endpoint, server = await start_stand_in({"certfile": str(cert), "keyfile": str(key)})
    try:
        yield endpoint
    finally:
        await stop_stand_in(endpoint, server)


@pytest.fixture(scope="session")
def postgres_url(postgres) -> str:
    """A fresh database on the session's real PostgreSQL server (tests/conftest.py)."""
    return postgres.create_database()
