"""Edges of what an admin sends for an event, through the API (JSON) and the page's form
(#20): every field named in a 400, never a 500."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from jupyterhub_onboarding.core.events import EventInvalid, parse_form, parse_json
from jupyterhub_onboarding.core.rules import parse_month

NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
BODY = {
    "title": "Exam",
    "kind": "exam",
    "start": "2026-12-10T10:00:00Z",
    "end": "2026-12-10T12:00:00Z",
    "expected_attendees": 5,
}
FORM = {
    "title": "Exam",
    "kind": "exam",
    "start": "2026-12-10T10:00",
    "end": "2026-12-10T12:00",
    "expected_attendees": "5",
    "time_zone": "UTC",
}
#: Every line-breaking character, and other control and format characters.
LINE_BREAKS = ["\r", "\n", "\x85", "\x0b", "\x0c", "\u2028", "\u2029"]
OTHERS = ["\x1b", "\u202e", "\u200b", "\ufeff", "\ud800"]
SINGLE_LINE = ["title", "profile", "contact"]


def refused(parse, values) -> dict[str, str]:
    with pytest.raises(EventInvalid) as caught:
        parse(values, NOW)
    return caught.value.errors


@pytest.mark.parametrize("field", SINGLE_LINE)
@pytest.mark.parametrize("character", LINE_BREAKS + OTHERS)
def test_single_line_fields_refuse_breaks_and_control_characters(field, character):
    value = f"p{character}min_capacity: 99999"
    assert field in refused(parse_json, {**BODY, field: value})
    assert field in refused(parse_form, {**FORM, field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("start", "9999-12-31T23:00:00-14:00"),
        ("start", "0001-01-01T00:00:00+01:00"),
        ("end", "9999-12-31T23:00:00-14:00"),
    ],
)
def test_api_dates_past_the_calendar_are_a_400_naming_the_field(field, value):
    assert "out of range" in refused(parse_json, {**BODY, field: value})[field]


@pytest.mark.parametrize(
    ("start", "end", "zone"),
    [
        ("9999-12-31T23:00", "9999-12-31T23:30", "Etc/GMT+12"),
        ("0001-01-01T00:00", "0001-01-01T01:00", "Etc/GMT-14"),
    ],
)
def test_form_dates_past_the_calendar_are_a_400_naming_the_field(start, end, zone):
    errors = refused(parse_form, {**FORM, "start": start, "end": end, "time_zone": zone})
    assert "out of range" in errors["start"]


def test_a_lone_surrogate_is_a_400_naming_the_field():
    assert "title" in refused(parse_json, {**BODY, "title": "\ud800x"})


@pytest.mark.parametrize("value", ["50", "5.0", 5.0, None, [5]])
def test_expected_attendees_in_json_is_an_integer_only(value):
    errors = refused(parse_json, {**BODY, "expected_attendees": value})
    assert "whole number" in errors["expected_attendees"]
    assert parse_json({**BODY, "expected_attendees": 50}, NOW).expected_attendees == 50
    # the form's field is text: typed digits are the number
    assert parse_form({**FORM, "expected_attendees": "50"}, NOW).expected_attendees == 50


@pytest.mark.parametrize("label", ["9999-12", "0000-01", "0000-12"])
def test_months_a_date_cannot_hold_are_refused(label):
    with pytest.raises(ValueError, match="month"):
        parse_month(label)
    assert parse_month("9999-11") == 999911 and parse_month("0001-01") == 101
