"""The one rule for text from outside (core/safetext.py), and each place that follows it:
the status model, the collector's rows, the usage labels and the events' fields."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from jupyterhub_onboarding.collector.rows import Row
from jupyterhub_onboarding.core.events import EventInvalid, parse_json
from jupyterhub_onboarding.core.safetext import REPLACEMENT, safe_text, unsafe_characters
from jupyterhub_onboarding.core.status.model import LabelUsage
from jupyterhub_onboarding.core.usage import clean_label

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
#: One of each kind the rule refuses: C0 and C1 controls (a terminal escape, CR, NEL), DEL,
#: format characters (a bidirectional override, an isolate, a zero-width space, the BOM),
#: a lone surrogate, the line and paragraph separators.
UNSAFE = "\x00\x1b\r\x85\x7f\u202e\u2066\u200b\ufeff\ud800\u2028\u2029"
#: Text the rule leaves as it is: markup, quotes, non-Latin letters, emoji, a plain space.
SAFE = '<b>"x"</b> ü 试 🎓 \u00a0end'


def test_every_unsafe_character_becomes_a_visible_mark_and_nothing_else_changes():
    assert unsafe_characters(UNSAFE) == list(UNSAFE)
    assert safe_text(UNSAFE) == REPLACEMENT * len(UNSAFE)
    assert unsafe_characters(SAFE) == [] and safe_text(SAFE) == SAFE
    assert safe_text("x" * 10, 5) == "xxxx\u2026"


@pytest.mark.parametrize("character", UNSAFE)
def test_every_user_of_the_rule_follows_it(character):
    text = f"a{character}b"
    assert LabelUsage(text, 1, 1.0).name == f"a{REPLACEMENT}b"  # the status model
    assert Row(hub=text, url="u", reachable=True, error=text).error == f"a{REPLACEMENT}b"
    assert unsafe_characters(clean_label(text) or "") == []  # a stored profile label
    start = NOW + timedelta(days=1)
    body = {
        "title": text,
        "kind": "exam",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "expected_attendees": 5,
    }
    with pytest.raises(EventInvalid) as refused:  # an event's fields are refused instead
        parse_json(body, NOW)
    assert refused.value.errors == {"title": "must not contain control characters or line breaks"}


def test_an_events_notes_may_hold_line_breaks_and_tabs_only():
    start = NOW + timedelta(days=1)
    body = {
        "title": "Exam",
        "kind": "exam",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "expected_attendees": 5,
    }
    assert (
        parse_json({**body, "notes": "room 101\n\tbring ID"}, NOW).notes == "room 101\n\tbring ID"
    )
    with pytest.raises(EventInvalid, match="notes"):
        parse_json({**body, "notes": "room\u2028101"}, NOW)
    with pytest.raises(EventInvalid, match="title"):
        parse_json({**body, "title": "Exam\tA"}, NOW)
