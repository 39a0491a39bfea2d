"""Shared fixtures and hooks. Real components are started once per session where possible;
the helpers that start them are in ``tests/harness/``."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from harness import ROOT
from harness.components import require_component
from harness.postgres import PostgresServer, find_pg_bin
from harness.process import STARTED, ManagedProcess

ARTIFACTS = ROOT / "test-artifacts"

#: Fixtures that start or drive a real component (hub and proxy, PostgreSQL, Prometheus or
#: promtool, Chromium, a built wheel, openssl). A test using one is
#: marked ``integration``, so ``make test-fast`` (``-m "not integration"``) runs only the
#: tests that need none.
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
        "tls_files",
        "wheel",
    }
)

#: Audit events of a new process: a test outside the integration tier must start none.
_PROCESS_EVENTS = frozenset({"subprocess.Popen", "os.posix_spawn", "os.exec", "os.system"})
#: The fast-tier test running now, if any (the audit hook below refuses it a process).
_FAST_TEST: list[str] = []


def _refuse_processes_in_fast_tests(event: str, _args: object) -> None:
    if _FAST_TEST and event in _PROCESS_EVENTS:
        raise RuntimeError(
            f"{_FAST_TEST[0]} starts a process ({event}) but is not marked integration: "
            "mark it, or use a fixture of REAL_COMPONENT_FIXTURES (tests/conftest.py)"
        )


sys.addaudithook(_refuse_processes_in_fast_tests)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if REAL_COMPONENT_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """A test not marked ``integration`` may start no process, in set-up, call or teardown."""
    fast = item.get_closest_marker("integration") is None
    if fast:
        _FAST_TEST[:] = [item.nodeid]
    try:
        return (yield)
    finally:
        _FAST_TEST.clear()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server from Debian's package, as an unprivileged user."""
    bindir = find_pg_bin()
    require_component("PostgreSQL server", bindir is not None, "Debian package postgresql")
    assert bindir is not None
    # outside pytest's root-only temporary tree, so the postgres user can reach it
    workdir = Path(tempfile.mkdtemp(prefix="onboarding-pg-"))
    with PostgresServer(workdir, bindir) as server:
        yield server
    shutil.rmtree(workdir, ignore_errors=True)


def _processes_of(item) -> list[ManagedProcess]:
    """The managed processes a test used: its fixtures' and those it started itself."""
    found = []
    for value in getattr(item, "funcargs", {}).values():
        process = getattr(value, "hub", value)
        if isinstance(process, ManagedProcess):
            found.append(process)
    found.extend(STARTED[item.stash.get(_STARTED_BEFORE, len(STARTED)) :])
    return list(dict.fromkeys(found))


_STARTED_BEFORE = pytest.StashKey[int]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item.stash[_STARTED_BEFORE] = len(STARTED)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """When a test that used a real component fails, show its log tail (a hub's log holds
    the proxy's and the service's lines too)."""
    report = yield
    if report.failed:
        for process in _processes_of(item)[-2:]:
            report.sections.append(
                (f"log tail of {process.label} in {process.workdir}", process.log_tail(80))
            )
    return report


def pytest_sessionfinish(session, exitstatus):
    """Stop every managed process a test or fixture left running, with what it started."""
    for process in reversed(STARTED):
        if process.proc is not None:  # not stopped yet, whether it still runs or not
            process.stop()
