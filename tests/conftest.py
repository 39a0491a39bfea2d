"""Shared fixtures. Real components are started once per session where possible."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
ROOT = TESTS.parent
ARTIFACTS = ROOT / "test-artifacts"

#: Debian's Chromium, driven by Playwright (which cannot download a browser here).
CHROMIUM = "/usr/bin/chromium"
#: Headless flags for a closed network: no background connections, a fresh profile each run.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


#: Fixtures that start or drive a real component (hub and proxy, PostgreSQL, Prometheus or
#: promtool, Chromium, a built wheel). A test using one is marked ``integration``, so
#: ``make test-fast`` (``-m "not integration"``) runs only the tests that need none.
REAL_COMPONENT_FIXTURES = frozenset(
    {
        "browser_context",
        "chart_hub",
        "faulty",
        "hostile",
        "hub",
        "installed",
        "postgres",
        "postgres_url",
        "prometheus_binary",
        "promtool",
        "real_hubs",
        "wheel",
    }
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if REAL_COMPONENT_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


def require_component(name: str, found: bool, how: str) -> None:
    """Skip with a printed reason when a real component is missing; in CI, fail instead."""
    if found:
        return
    message = f"{name} is not installed ({how})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must run every test (make test installs it)")
    print(f"SKIP: {message}")
    pytest.skip(message)


def require_binary(binary: str, package: str) -> str:
    path = shutil.which(binary) or (binary if Path(binary).exists() else None)
    require_component(binary, path is not None, f"Debian package {package}")
    return str(path)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    """A real PostgreSQL server from Debian's package, as an unprivileged user."""
    from postgres import PostgresServer, find_pg_bin

    bindir = find_pg_bin()
    require_component("PostgreSQL server", bindir is not None, "Debian package postgresql")
    # outside pytest's root-only temporary tree, so the postgres user can reach it
    workdir = Path(tempfile.mkdtemp(prefix="onboarding-pg-"))
    server = PostgresServer(workdir, bindir)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def _hubs_of(item) -> list:
    """The real hubs a test used: its fixtures' and those it started itself."""
    from hubproc import STARTED, HubProcess

    hubs = []
    for value in getattr(item, "funcargs", {}).values():
        hub = getattr(value, "hub", value)
        if isinstance(hub, HubProcess):
            hubs.append(hub)
    hubs.extend(STARTED[item.stash.get(_STARTED_BEFORE, len(STARTED)) :])
    return list(dict.fromkeys(hubs))


_STARTED_BEFORE = pytest.StashKey[int]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    from hubproc import STARTED

    item.stash[_STARTED_BEFORE] = len(STARTED)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """When a test that used a real hub fails, show the hub's (and service's) log tail."""
    report = yield
    if report.failed:
        for hub in _hubs_of(item)[-2:]:
            report.sections.append((f"log tail of the hub in {hub.workdir}", hub.log_tail(80)))
    return report
