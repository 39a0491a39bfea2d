"""Sessions from successive polls and their monthly figures, with injected times."""

from datetime import datetime, timedelta, timezone

import pytest

from jupyterhub_onboarding.core.usage import (
    LAST_LOGIN_BUCKETS,
    MAX_LABEL_LENGTH,
    SERVER_MINUTES_BUCKETS,
    LabelUsage,
    OpenSession,
    RunningServer,
    SessionRecord,
    bucket_bounds,
    bucket_index,
    cap_labels,
    clean_label,
    distribution,
    first_label,
    infer_sessions,
    month_bounds,
    month_part,
    month_usage,
    percentile,
    session_end,
)

UTC = timezone.utc
T0 = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


# -- month split ------------------------------------------------------------------------


def test_month_bounds_roll_over_the_year():
    assert month_bounds(202612) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )


def test_session_crossing_a_month_boundary_is_split_at_it():
    start = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    end = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
    boundary = datetime(2026, 12, 1, tzinfo=UTC)
    record = SessionRecord(1, start, end)
    assert month_part(record, *month_bounds(202611), end) == (True, 3600.0, boundary)
    assert month_part(record, *month_bounds(202612), end) == (False, 1800.0, end)


def test_session_over_three_months_and_one_within_a_month():
    long = SessionRecord(1, datetime(2026, 11, 30, tzinfo=UTC), datetime(2027, 1, 2, tzinfo=UTC))
    parts = {m: month_part(long, *month_bounds(m), T0) for m in (202610, 202611, 202612, 202701)}
    assert parts[202610] is None
    assert [part[1] / 86400 for part in list(parts.values())[1:]] == [1.0, 31.0, 1.0]
    short = SessionRecord(1, T0, T0 + MIN)
    assert month_part(short, *month_bounds(202611), T0) == (True, 60.0, T0 + MIN)
    # an open session runs until now
    assert month_part(SessionRecord(1, T0, None), *month_bounds(202611), T0 + MIN)[1] == 60.0


def test_month_figures_split_hours_and_lengths_at_the_boundary():
    start = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    end = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
    records = [SessionRecord(1, start, end, "small")]
    now = datetime(2026, 12, 5, tzinfo=UTC)
    nov = month_usage(records, 202611, now)
    dec = month_usage(records, 202612, now)
    assert (nov.sessions, nov.server_hours, nov.median_session_minutes) == (1, 1.0, 60.0)
    # started in November: December counts its time, not a new session
    assert (dec.sessions, dec.server_hours, dec.median_session_minutes) == (0, 0.5, 30.0)
    assert nov.users_with_sessions == dec.users_with_sessions == 1
    assert dec.profiles == (LabelUsage("small", 0, 0.5),)


def test_open_session_runs_until_now_and_has_no_length_yet():
    records = [SessionRecord(1, T0, None), SessionRecord(2, T0, T0 + 30 * MIN)]
    usage = month_usage(records, 202611, T0 + 90 * MIN)
    assert usage.sessions == 2
    assert usage.server_hours == 2.0  # 1.5 h running + 0.5 h ended
    assert usage.median_session_minutes == 30.0  # only the ended one has a length
    assert usage.users_with_sessions == 2


def test_sessions_outside_the_month_do_not_count():
    before = SessionRecord(1, datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
    after = SessionRecord(2, datetime(2026, 12, 1, tzinfo=UTC), None)
    usage = month_usage([before, after], 202611, datetime(2026, 12, 2, tzinfo=UTC))
    assert (usage.sessions, usage.server_hours, usage.users_with_sessions) == (0, 0.0, 0)


def test_daily_peaks_give_the_month_peak():
    peaks = {"2026-11-03": 2, "2026-11-20": 5, "2026-12-01": 9}
    usage = month_usage([], 202611, T0, daily_peaks=peaks)
    assert usage.peak_concurrent_servers == 5
    assert usage.daily_peaks == (("2026-11-03", 2), ("2026-11-20", 5))


# -- percentiles ------------------------------------------------------------------------


def test_percentiles_with_few_sessions():
    assert percentile([], 90) is None
    assert percentile([12.0], 90) == 12.0
    assert percentile([12.0], 50) == 12.0
    assert percentile([10.0, 20.0], 50) == 15.0
    assert percentile([10.0, 20.0], 90) == pytest.approx(19.0)
    assert percentile([30.0, 10.0, 20.0], 90) == pytest.approx(28.0)
    assert percentile(list(range(1, 11)), 90) == pytest.approx(9.1)


def test_month_median_and_p90_from_lengths():
    records = [SessionRecord(i, T0, T0 + minutes * MIN) for i, minutes in enumerate((5, 10, 60))]
    usage = month_usage(records, 202611, T0 + timedelta(days=1))
    assert usage.median_session_minutes == 10.0
    assert usage.p90_session_minutes == 50.0


# -- restart inference ------------------------------------------------------------------


def test_a_server_seen_again_continues_its_session():
    session = OpenSession(7, "ana", "", T0, T0)
    running = [RunningServer("ana", "", T0, T0 + 5 * MIN)]
    changes = infer_sessions([session], running, last_seen=T0 + MIN, now=T0 + 2 * MIN)
    assert changes.opened == () and changes.ended == ()
    # the server's newer activity is kept, capped at the poll's time
    assert changes.touched == ((7, T0 + 2 * MIN),)


def test_a_new_started_is_a_restart_ending_the_old_session_at_the_new_start():
    session = OpenSession(7, "ana", "", T0)
    restarted = T0 + 10 * MIN
    running = [RunningServer("ana", "", restarted)]
    changes = infer_sessions([session], running, last_seen=T0 + 9 * MIN, now=T0 + 11 * MIN)
    assert changes.ended == ((7, restarted),)
    assert changes.opened == (running[0],)


def test_a_server_gone_ends_at_the_users_activity_when_it_moved_after_the_last_sighting():
    session = OpenSession(7, "ana", "", T0)
    stop = T0 + 9 * MIN + timedelta(seconds=20)
    changes = infer_sessions(
        [session], [], last_seen=T0 + 9 * MIN, now=T0 + 10 * MIN, user_activity={"ana": stop}
    )
    assert changes.ended == ((7, stop),)


def test_a_server_gone_without_newer_activity_ends_at_the_last_sighting():
    session = OpenSession(7, "ana", "", T0)
    old_activity = T0 - MIN  # before the last sighting: not the stop
    changes = infer_sessions(
        [session],
        [],
        last_seen=T0 + 9 * MIN,
        now=T0 + 10 * MIN,
        user_activity={"ana": old_activity},
    )
    assert changes.ended == ((7, T0 + 9 * MIN),)


def test_after_a_long_outage_the_end_is_still_pinned_by_the_users_activity():
    session = OpenSession(7, "ana", "", T0, T0 + MIN)
    stop = T0 + timedelta(hours=3)
    changes = infer_sessions(
        [session],
        [],
        last_seen=T0 + 2 * MIN,
        now=T0 + timedelta(hours=5),
        user_activity={"ana": stop},
    )
    assert changes.ended == ((7, stop),)


def test_end_never_before_start_nor_after_now():
    assert session_end(T0, T0 + MIN, user_activity=T0 + timedelta(days=1)) == T0
    assert session_end(T0, T0 + MIN, server_activity=T0 + 30 * MIN) == T0 + MIN
    # without any recorded poll, the last known activity stands in for the sighting
    session = OpenSession(1, "ben", "x", T0, T0 + 3 * MIN)
    changes = infer_sessions([session], [], last_seen=None, now=T0 + 10 * MIN)
    assert changes.ended == ((1, T0 + 3 * MIN),)


def test_named_servers_are_separate_sessions():
    default = RunningServer("ana", "", T0)
    named = RunningServer("ana", "gpu", T0 + MIN)
    changes = infer_sessions(
        [OpenSession(1, "ana", "", T0)], [default, named], last_seen=T0, now=T0 + 2 * MIN
    )
    assert changes.opened == (named,)
    assert changes.ended == ()


# -- labels -----------------------------------------------------------------------------


def test_labels_are_short_printable_and_bounded():
    assert clean_label("  small\n") == "small"
    assert clean_label("a\x00b\u202ec") == "a\ufffdb\ufffdc"  # the one rule: a visible mark
    assert clean_label("") is None and clean_label(None) is None and clean_label(True) is None
    assert clean_label({"x": 1}) is None
    assert clean_label(4) == "4"
    long = clean_label("x" * 500)
    assert long is not None and len(long) == MAX_LABEL_LENGTH and long.endswith("\u2026")


def test_first_label_takes_the_first_key_present():
    keys = ("profile-option-image--unlisted-choice", "profile-option-image", "image")
    assert first_label({"profile-option-image": "py", "image": "r"}, keys) == "py"
    assert first_label({"profile-option-image--unlisted-choice": "", "image": "r"}, keys) == "r"
    assert first_label({}, keys) is None
    assert first_label(None, keys) is None
    assert first_label(["image"], keys) is None


def test_label_capping_keeps_the_most_used_and_sums_the_rest_as_other():
    usage = {"a": (5, 1.0), "b": (3, 9.0), "c": (3, 2.0), "d": (1, 0.5), "other": (1, 1.0)}
    capped = cap_labels(usage, 2)
    assert capped == (
        LabelUsage("a", 5, 1.0),
        LabelUsage("b", 3, 9.0),
        LabelUsage("other", 5, 3.5),
    )
    assert cap_labels({"a": (1, 1.0)}, 20) == (LabelUsage("a", 1, 1.0),)
    assert cap_labels({}, 20) == ()


def test_month_figures_cap_profiles_and_name_missing_ones_none():
    records = [SessionRecord(i, T0, T0 + MIN, f"p{i % 3}" if i < 9 else None) for i in range(10)]
    usage = month_usage(records, 202611, T0 + timedelta(hours=1), label_limit=2)
    names = [entry.name for entry in usage.profiles]
    assert names[:2] == ["p0", "p1"] and names[-1] == "other"
    assert sum(entry.sessions for entry in usage.profiles) == 10
    assert usage.images == (LabelUsage("none", 10, round(10 / 60, 3)),)


# -- histogram buckets ------------------------------------------------------------------


def test_last_login_buckets_at_their_edges():
    edges = {0: "under_1d", 0.999: "under_1d", 1: "1d_7d", 7: "7d_30d", 30: "30d_90d"}
    edges.update({89.99: "30d_90d", 90: "over_90d", 10_000: "over_90d"})
    for days, key in edges.items():
        assert LAST_LOGIN_BUCKETS[bucket_index(days, LAST_LOGIN_BUCKETS)][0] == key, days


def test_server_minutes_buckets_at_their_edges():
    edges = {0: "under_30m", 29.9: "under_30m", 30: "30m_2h", 120: "2h_10h", 600: "10h_40h"}
    edges[2400] = "over_40h"
    for minutes, key in edges.items():
        assert SERVER_MINUTES_BUCKETS[bucket_index(minutes, SERVER_MINUTES_BUCKETS)][0] == key


def test_distribution_has_every_bucket_and_bounds_are_known():
    counts = distribution([0.5, 1, 1, 400], LAST_LOGIN_BUCKETS)
    assert counts == {"under_1d": 1, "1d_7d": 2, "7d_30d": 0, "30d_90d": 0, "over_90d": 1}
    assert bucket_bounds("7d_30d", LAST_LOGIN_BUCKETS) == (7.0, 30.0)
    with pytest.raises(KeyError):
        bucket_bounds("nope", LAST_LOGIN_BUCKETS)


def test_month_accumulator_equals_the_figures_computed_from_scratch():
    import random

    from jupyterhub_onboarding.core.monthtotals import MonthAccumulator
    from jupyterhub_onboarding.core.usage import user_months

    rng = random.Random(7)
    month_start = datetime(2026, 11, 1, tzinfo=UTC)
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    records = {}
    for sid in range(400):
        began = month_start + timedelta(minutes=rng.randrange(-3000, 27000))
        began = min(began, now - MIN)
        ended = None if rng.random() < 0.2 else min(began + MIN * rng.randrange(0, 600), now)
        records[sid] = SessionRecord(sid % 37, began, ended, rng.choice(["a", "b", None]))
    acc = MonthAccumulator(202611)
    for sid, record in records.items():
        assert acc.put(sid, record)

    def check(at):
        expected = month_usage(records.values(), 202611, at, label_limit=2)
        got = acc.figures(at, label_limit=2)
        assert got.sessions == expected.sessions
        assert got.users_with_sessions == expected.users_with_sessions
        assert got.server_hours == pytest.approx(expected.server_hours, abs=0.002)
        assert got.median_session_minutes == expected.median_session_minutes
        assert got.p90_session_minutes == expected.p90_session_minutes
        assert [p.name for p in got.profiles] == [p.name for p in expected.profiles]
        view, _changed = acc.users(at)
        scratch = user_months(records.values(), 202611, at)
        assert set(view) == set(scratch)
        for user_id, entry in scratch.items():
            mine = view[user_id]
            assert (mine.sessions, mine.last_end, mine.open) == (
                entry.sessions,
                entry.last_end,
                entry.open,
            )
            assert mine.seconds == pytest.approx(entry.seconds, abs=0.01)

    check(now)
    # the running sessions end, new ones start: only those are given again
    later = now + timedelta(hours=2)
    for sid, record in list(records.items()):
        if record.ended is None and sid % 2:
            records[sid] = SessionRecord(record.user_id, record.started, now + MIN, record.profile)
            assert acc.put(sid, records[sid])
    records[1000] = SessionRecord(5, now + MIN, None, "a")
    acc.put(1000, records[1000])
    _view, changed = acc.users(later)
    assert 5 in changed
    check(later)
    # an ended session that changes is refused: the month is built again
    closed = next(sid for sid, r in records.items() if r.ended is not None)
    assert not acc.put(closed, None)


def test_the_accumulator_keeps_no_ended_session_and_its_parts_equal_a_fresh_count():
    """Memory follows the users and the running sessions: an ended session is added to the
    totals and let go; the per-user parts (what the usage per group is made of) equal those
    counted from scratch."""
    import gc

    from jupyterhub_onboarding.core.monthtotals import MonthAccumulator, user_parts
    from jupyterhub_onboarding.core.usage import month_bounds, month_part

    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    start = datetime(2026, 11, 2, tzinfo=UTC)
    records = [
        SessionRecord(n % 7, start + n * 30 * MIN, start + (n * 30 + 10 + n % 50) * MIN)
        for n in range(200)
    ]
    records += [SessionRecord(3, now - 90 * MIN, None), SessionRecord(11, now - 5 * MIN, None)]
    # one started in October: two hours of it in November, no session started in November
    records.append(SessionRecord(5, start - 26 * 60 * MIN, start - 22 * 60 * MIN))
    acc = MonthAccumulator(202611)
    for sid, record in enumerate(records):
        assert acc.put(sid, record)
    ended = records[0]
    holders = [r for r in gc.get_referrers(ended) if isinstance(r, (dict, list, set, tuple))]
    assert holders == [records]
    assert len(acc.open) == 2
    expected: dict = {}
    bounds = month_bounds(202611)
    for record in records:
        found = month_part(record, *bounds, now)
        if found is None:
            continue
        entry = expected.setdefault(record.user_id, [0, 0.0, []])
        entry[0] += found[0]
        entry[1] += found[1]
        if record.ended is not None or found[2] == bounds[1]:
            entry[2].append(found[1] / 60.0)
    got = acc.parts(now)
    assert user_parts(records, 202611, now) == got
    assert set(got) == set(expected)
    for user_id, (sessions, seconds, lengths) in expected.items():
        mine = got[user_id]
        assert (mine.sessions, sorted(mine.lengths)) == (sessions, sorted(lengths))
        assert mine.seconds == pytest.approx(seconds)
    # reading the parts changes nothing in the accumulator
    assert acc.parts(now)[3].seconds == got[3].seconds
    assert acc.figures(now) == month_usage(records, 202611, now)
