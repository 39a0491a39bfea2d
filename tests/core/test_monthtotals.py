"""A month's running totals read in one go: the per-user columns and the loaded sessions
give what the same sessions put one by one give."""

import random
from datetime import datetime, timedelta, timezone

import pytest

from jupyterhub_onboarding.core.monthtotals import ClosedTotals, MonthAccumulator
from jupyterhub_onboarding.core.usage import SessionRecord, month_usage, user_months

UTC = timezone.utc
MIN = timedelta(minutes=1)
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def sessions(count: int, seed: int) -> dict[int, SessionRecord]:
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    found = {}
    for _n in range(count):
        began = min(start + MIN * rng.randrange(-3000, 27000), NOW - MIN)
        ended = None if rng.random() < 0.15 else min(began + MIN * rng.randrange(0, 600), NOW)
        # ids as a database gives them: unique, not in order
        found[rng.randrange(10**9)] = SessionRecord(
            rng.randrange(3000), began, ended, rng.choice(["a", "b", None])
        )
    return found


def test_closed_totals_are_a_mapping_of_the_users_with_an_ended_session():
    totals = ClosedTotals()
    assert len(totals) == 0 and 5 not in totals and list(totals) == []
    totals.add(5, 1, 60.0, 1000.0)
    totals.add(5, 0, 30.0, 900.0)
    totals.add(4000, 1, 10.0, 2000.0)
    assert totals[5] == (1, 90.0, 1000.0)
    assert totals.get(4000) == (1, 10.0, 2000.0)
    assert list(totals) == [5, 4000] and len(totals) == 2
    assert 6 not in totals and totals.get(6) is None and "5" not in totals
    with pytest.raises(KeyError):
        totals[-1]
    with pytest.raises(ValueError, match="not negative"):
        totals.add(-1, 1, 1.0, 1.0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_loading_a_month_equals_putting_its_sessions_one_by_one(seed):
    records = sessions(2000, seed)
    put, loaded = MonthAccumulator(202611), MonthAccumulator(202611)
    for sid, record in records.items():
        assert put.put(sid, record)
    loaded.load(records.items())
    assert loaded.figures(NOW, label_limit=2) == put.figures(NOW, label_limit=2)
    assert loaded.parts(NOW) == put.parts(NOW)
    got, _changed = loaded.users(NOW)
    expected = user_months(records.values(), 202611, NOW)
    assert set(got) == set(expected) and len(got) == len(expected)
    for user_id, entry in expected.items():
        assert got[user_id].sessions == entry.sessions
        assert got[user_id].last_end == entry.last_end
        assert got[user_id].seconds == pytest.approx(entry.seconds, abs=0.01)
    assert loaded.figures(NOW).sessions == month_usage(records.values(), 202611, NOW).sessions


def test_a_loaded_ended_session_given_again_is_known_and_a_running_one_moves_on():
    records = sessions(500, 4)
    acc = MonthAccumulator(202611)
    acc.load(records.items())
    ended = [sid for sid, r in records.items() if r.ended is not None]
    running = [sid for sid, r in records.items() if r.ended is None]
    before = acc.figures(NOW)
    # an ended session given again changes nothing; dropping one needs the month read again
    for sid in ended[:50]:
        assert acc.put(sid, records[sid])
    assert acc.figures(NOW) == before
    assert not acc.put(ended[0], None)
    # a running session that ends is counted once, as a fresh count of the same sessions
    sid = running[0]
    records[sid] = SessionRecord(
        records[sid].user_id, records[sid].started, NOW, records[sid].profile
    )
    assert acc.put(sid, records[sid])
    assert acc.put(sid, records[sid])
    assert acc.figures(NOW) == month_usage(records.values(), 202611, NOW)
    _rows, changed = acc.users(NOW)
    assert records[sid].user_id in changed
