"""The one formatting of figures, dates and links used by the page, report, collector and email."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from jupyterhub_onboarding.core import format as fmt


@pytest.mark.parametrize(
    ("minutes", "text"),
    [
        (159.3, "2 h 39 min"),
        (45, "45 min"),
        (45.6, "46 min"),
        (120, "2 h"),
        (119.6, "2 h"),
        (60 * 30 + 5, "30 h 5 min"),
        (0.4, "under 1 min"),
        (0, "0 min"),
        (None, ""),
    ],
)
def test_duration_reads_as_hours_and_minutes(minutes, text):
    assert fmt.duration(minutes) == text


def test_duration_none_mark():
    assert fmt.duration(None, none="\u2013") == "\u2013"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3.0, "3"),
        (0.96, "1"),
        (1.0, "1"),
        (4.38, "4.4"),
        (0.04, "0"),
        (1234.5, "1,234.5"),
        (None, ""),
    ],
)
def test_days_one_rule(value, text):
    assert fmt.days(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (6.0, "in 6 days"),
        (5.9, "in 5 days"),
        (2.0, "in 2 days"),
        (1.5, "in 36 h"),
        (0.01, "in 14 min"),
        (0, "started"),
        (-1, "started"),
        (None, ""),
    ],
)
def test_days_away(value, text):
    assert fmt.days_away(value) == text


def test_days_away_agrees_with_whole_days_of_a_timedelta():
    start = datetime(2026, 12, 10, 9, tzinfo=timezone.utc)
    now = start - timedelta(days=6, hours=3)
    assert fmt.days_away((start - now).total_seconds() / 86400) == "in 6 days"


def test_thousands_separators_everywhere():
    assert fmt.number(1024) == "1,024"
    assert fmt.hours(1234.56) == "1,234.6"
    assert fmt.hours(2.26) == "2.3"
    assert fmt.format_count(1024, "user") == "1,024 users"
    assert fmt.format_money(1024) == "$1,024.00"
    assert fmt.percent_change(2048, 1024) == "+100%"
    assert fmt.percent_change(0, 1024) == "\u2212100%"
    assert fmt.percent_change(100, 0) == "new"
    assert fmt.percent_change(0, 0) == "no change"
    assert fmt.percent_change(1002, 1000) == "no change"


def test_long_dates():
    moment = datetime(2026, 12, 4, 14, 34, 34, 457929, tzinfo=timezone.utc)
    assert fmt.long_datetime(moment) == "4 December 2026, 14:34 UTC"
    later = datetime(2026, 12, 5, 1, 2, tzinfo=timezone(timedelta(hours=5)))
    assert fmt.long_datetime(later) == "4 December 2026, 20:02 UTC"
    assert fmt.long_date(date(2026, 9, 7)) == "7 September 2026"
    assert fmt.long_date(later) == "4 December 2026"
    assert fmt.long_datetime(None) == fmt.long_date(None) == ""


def test_month_title_one_form():
    assert fmt.month_title("2026-12") == "December 2026"
    assert fmt.month_title("2026-12", to_date=True) == "December 2026, to date"


def test_basis_colours_one_per_basis():
    assert fmt.basis_colour("login") != fmt.basis_colour("server")
    assert fmt.basis_colour("login") == fmt.BASIS_COLOURS["login"]
    assert all(colour.startswith("#") and len(colour) == 7 for colour in fmt.BASIS_COLOURS.values())


@pytest.mark.parametrize(
    ("url", "text"),
    [
        ("mailto:support%40example.org?subject=Help%20me", "support@example.org"),
        ("mailto:help@example.org", "help@example.org"),
        ("https://docs.example.org/guide/", "docs.example.org/guide"),
        ("https://example.org/", "example.org"),
        ("http://example.org/a%20b?x=1", "example.org/a b?x=1"),
        ("https://example.org/%1b%5b31m", "example.org/\ufffd[31m"),
    ],
)
def test_link_target_is_readable(url, text):
    assert fmt.link_target(url) == text
