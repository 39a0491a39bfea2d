"""The store of the service's tests: on SQLite, and on the session's PostgreSQL server (those
runs are ``integration``); the service's wiring without a hub."""

from __future__ import annotations

import pytest

from jupyterhub_onboarding.app import Onboarding
from jupyterhub_onboarding.service.store import Store
from jupyterhub_onboarding.service.wiring import OnboardingService


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def store_url(request, tmp_path) -> str:
    """A fresh database: a SQLite file, or a new database on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'onboarding.sqlite'}"
    return request.getfixturevalue("postgres").create_database()


@pytest.fixture
def store(store_url):
    """A store on ``store_url`` with its schema made."""
    store = Store(store_url)
    store.upgrade()
    yield store
    store.close()


@pytest.fixture
async def service(tmp_path, monkeypatch):
    """The service's database side, as the service wires it, on an SQLite file (no hub)."""
    monkeypatch.chdir(tmp_path)
    app = Onboarding(
        api_token="test-token",
        db_url=f"sqlite:///{tmp_path / 'onboarding.sqlite'}",
        cookie_secret_file=str(tmp_path / "cookie-secret"),
    )
    wired = OnboardingService(app)
    await wired.db(wired.store.upgrade)
    yield wired
    wired.hub.close()
    wired.executor.shutdown(wait=True)
    wired.read_executor.shutdown(wait=True)
    wired.store.close()
