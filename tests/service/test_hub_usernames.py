"""The hub's usernames the service keeps for the storage poller: kept from every poll when
home directory storage is configured (and only then), and not copied whole by an incremental
poll that saw no new name."""

from datetime import datetime, timezone

import pytest

from jupyterhub_onboarding.app import Onboarding
from jupyterhub_onboarding.core.hubmodel import UserSeen
from jupyterhub_onboarding.service.store.poll import WrittenPages
from jupyterhub_onboarding.service.wiring import OnboardingService

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
async def make_service(tmp_path, monkeypatch):
    """The service's wiring, with or without home directory storage configured."""
    monkeypatch.chdir(tmp_path)
    made = []

    def make(storage: bool) -> OnboardingService:
        app = Onboarding(
            api_token="test-token",
            db_url=f"sqlite:///{tmp_path / f'onboarding-{len(made)}.sqlite'}",
            cookie_secret_file=str(tmp_path / "cookie-secret"),
            **({"prometheus_url": "http://127.0.0.1:9/"} if storage else {}),
        )
        wired = OnboardingService(app)
        assert (wired.storage is not None) == storage
        made.append(wired)
        return wired

    yield make
    for wired in made:
        wired.hub.close()
        wired.executor.shutdown(wait=True)
        wired.read_executor.shutdown(wait=True)
        wired.store.close()


def users(*names):
    return [UserSeen(name, False, NOW) for name in names]


async def test_an_incremental_poll_of_known_users_keeps_the_names_as_they_are(make_service):
    service = make_service(storage=True)
    await service._record(users("ann", "bo", "cy"), NOW, True, frozenset())
    kept = service.hub_usernames
    await service._record(users("bo"), NOW, False, frozenset())
    assert service.hub_usernames is kept  # nothing new: no copy of every name
    await service._record(users("bo", "dee"), NOW, False, frozenset())
    assert service.hub_usernames == {"ann", "bo", "cy", "dee"}
    await service._record(users("dee"), NOW, True, frozenset())
    assert service.hub_usernames == {"dee"}  # a full poll says who is left


async def test_without_home_directory_storage_no_name_is_kept(make_service):
    service = make_service(storage=False)
    await service._record(users("ann", "bo", "cy"), NOW, True, frozenset())
    assert service.hub_usernames == frozenset()


async def test_a_full_read_written_page_by_page_keeps_the_names_of_every_page(make_service):
    service = make_service(storage=True)
    await service.ensure_database()
    written = WrittenPages()
    for page in (users("ann", "bo"), users("cy")):
        written.add(await service._record_page(page, NOW))
    await service._record([], NOW, True, frozenset(), written)
    assert service.hub_usernames == {"ann", "bo", "cy"}
