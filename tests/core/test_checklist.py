"""The checklist's pure rules: the viewing admin, verified-at, ticks and progress."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from jupyterhub_onboarding.core.checklist import (
    Meeting,
    OnboardingRecord,
    Tick,
    build_checklist,
    manual_keys,
    progress,
)
from jupyterhub_onboarding.core.snapshot import Aggregates, Settings, TrackerState, build_snapshot
from jupyterhub_onboarding.core.status.write import onboarding_section, to_json

UTC = timezone.utc
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
HUB = "https://hub.example.org"
POLLED = NOW - timedelta(seconds=30)


def snapshot(**aggregates):
    return build_snapshot(
        Aggregates(**aggregates),
        Settings(hub_url=HUB, live_since=NOW - timedelta(days=3)),
        TrackerState(last_success_at=POLLED),
        NOW,
    )


def items(sections):
    return {item.key: item for section in sections for item in section.items}


def test_the_viewing_admin_proves_an_administrator_has_logged_in():
    # the last poll saw no admin yet, but an admin is looking at the page
    before = snapshot(users_known=1, users_logged_in=1)
    seen = items(build_checklist(before, (), HUB))["admin_logged_in"]
    assert seen.verified is False and seen.detail == "No administrator has logged in yet."
    viewed = items(build_checklist(before, (), HUB, viewer_admin_at=NOW))["admin_logged_in"]
    assert viewed.verified is True and viewed.done
    assert viewed.detail == "You are logged in as an administrator."
    assert viewed.verified_at == NOW
    assert viewed.verified_note == "Verified on 2026-11-20 12:00 UTC."
    # before the first count as well
    first = items(build_checklist(None, (), HUB, viewer_admin_at=NOW))["admin_logged_in"]
    assert first.verified is True


def test_an_admin_seen_by_the_poll_is_verified_when_first_seen():
    first = NOW - timedelta(days=2)
    item = items(
        build_checklist(
            snapshot(admin_logged_in=True, admin_first_login_at=first),
            (),
            HUB,
            viewer_admin_at=NOW,
        )
    )["admin_logged_in"]
    assert item.detail == "An administrator has logged in."
    assert item.verified_at == first
    assert item.verified_note == "Verified on 2026-11-18 12:00 UTC."


def test_every_verified_item_says_when():
    reached = NOW - timedelta(days=1)
    checked = items(
        build_checklist(
            snapshot(
                users_known=6,
                users_logged_in=5,
                nth_seen_at={"login": reached},
                admin_logged_in=True,
                admin_first_login_at=NOW - timedelta(days=3),
            ),
            (),
            HUB,
        )
    )
    verified = [item for item in checked.values() if item.verified]
    assert {item.key for item in verified} == {"admin_logged_in", "users_exist", "first_value"}
    for item in verified:
        assert item.verified_note.startswith("Verified on "), item.key
    assert checked["users_exist"].verified_at == POLLED
    assert checked["first_value"].verified_at == reached
    # an item not verified says nothing about when
    assert items(build_checklist(snapshot(), (), HUB))["first_value"].verified_note == ""


def test_ticks_mark_manual_items_done_with_who_and_when():
    tick = Tick("admin", NOW - timedelta(minutes=5))
    record = OnboardingRecord(ticks={"authentication": tick, "first_value": tick})
    checked = items(build_checklist(snapshot(), (), HUB, record=record))
    assert checked["authentication"].tick == tick and checked["authentication"].done
    # a tick cannot make the service's own check pass
    assert checked["first_value"].tick is None and not checked["first_value"].done
    assert not checked["compute"].done


def test_manual_keys_are_the_items_the_service_cannot_verify():
    keys = manual_keys()
    assert {"authentication", "default_environment", "compute", "permissions"} <= keys
    assert not keys & {"admin_logged_in", "users_exist", "first_value"}


def test_progress_counts_verified_and_ticked_items():
    sections = build_checklist(snapshot(), (), HUB)
    done, total = progress(sections)
    assert (done, total) == (0, 14)
    record = OnboardingRecord(ticks={"authentication": Tick("admin", NOW)})
    assert progress(build_checklist(snapshot(), (), HUB, record=record, viewer_admin_at=NOW)) == (
        2,
        14,
    )


def test_the_status_section_carries_meeting_access_and_progress_without_names():
    record = OnboardingRecord(
        ticks={"compute": Tick("secret-admin-name", NOW)},
        meeting=Meeting(date(2026, 11, 19), True, "secret-admin-name", NOW),
    )
    reached = NOW - timedelta(days=1)
    section = to_json(
        onboarding_section(snapshot(users_logged_in=5, nth_seen_at={"login": reached}), record)
    )
    assert section == {
        "meeting_date": "2026-11-19",
        "hub_access_confirmed": True,
        "first_value_date": "2026-11-19",
        "checklist_done": 2,
        "checklist_total": 14,
    }
    assert "secret-admin-name" not in repr(section)
    empty = to_json(onboarding_section(snapshot(), None))
    assert empty["meeting_date"] is None and empty["hub_access_confirmed"] is None
