"""The store of the service's tests: on SQLite, and on the session's PostgreSQL server (those
runs are ``integration``)."""

from __future__ import annotations

import pytest

from jupyterhub_onboarding.service.store import Store


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
