"""Who counts, and month arithmetic."""

import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyterhub_onboarding.core.rules import (
    CountingRules,
    add_months,
    day_bit,
    last_months,
    month_label,
    month_of,
    parse_month,
)

UTC = timezone.utc


def test_default_health_check_account_is_not_counted():
    rules = CountingRules(excluded_pattern=re.compile("deployment-service-check"))
    assert not rules.is_counted("deployment-service-check", False)
    assert rules.is_counted("deployment-service-check-2", False)  # whole-name match only
    assert rules.is_counted("alice", False)


def test_excluded_names_and_admins():
    rules = CountingRules(excluded_users=frozenset({"staff"}), count_admins=False)
    assert not rules.is_counted("staff", False)
    assert not rules.is_counted("boss", True)
    assert rules.is_counted("alice", False)
    assert CountingRules().is_counted("boss", True)


def test_month_of_uses_utc():
    late_evening_west = datetime(2026, 11, 30, 20, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert month_of(late_evening_west) == 202612
    assert month_of(datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC)) == 202611


def test_month_labels_round_trip_and_errors():
    assert month_label(202601) == "2026-01"
    assert parse_month("2026-01") == 202601
    for bad in ("2026-13", "2026-1", "26-01", "", "2026-00"):
        with pytest.raises(ValueError):
            parse_month(bad)


def test_add_months_across_years():
    assert add_months(202612, 1) == 202701
    assert add_months(202601, -1) == 202512
    assert last_months(202602, 3) == [202512, 202601, 202602]


@given(st.integers(min_value=1970, max_value=2200), st.integers(1, 12), st.integers(-500, 500))
def test_add_months_inverts(year, month, delta):
    start = year * 100 + month
    shifted = add_months(start, delta)
    assert 1 <= shifted % 100 <= 12
    assert add_months(shifted, -delta) == start


@given(st.datetimes(timezones=st.just(UTC)))
def test_day_bit_is_one_day(when):
    bit = day_bit(when)
    assert bit == 1 << (when.day - 1)  # the day of the month, and only that day
