"""The calendar feed as both placeholder scalers the README names read it (#20).

- Berkeley's node placeholder scaler reads the feed with ``ical``
  (``calendar.timeline.at_instant(now)``), strips HTML from each DESCRIPTION with
  ``re.sub("<[^<]+?>", "", description)``, loads the whole DESCRIPTION as (safe) YAML and
  keeps the integer values of the mapping as ``{pool: count}``.
- minrk's placeholder autoscaler reads each line of the DESCRIPTION (``str.splitlines``)
  against ``^\\s*([a-z_0-9]+)\\s*[\\=:]\\s*(\\d+)\\s*$`` and keeps ``min_capacity`` and
  ``min_placeholders``.

Both rules are applied here to feeds the service writes, with hostile titles and profiles.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import icalendar
import pytest
import yaml
from ical.calendar_stream import IcsCalendarStream

from jupyterhub_onboarding.core.events import Event
from jupyterhub_onboarding.service.events import calendar_feed

NOW = datetime(2027, 3, 3, 7, 0, tzinfo=timezone.utc)
MINRK_LINE = re.compile(r"^\s*([a-z_0-9]+)\s*[\=:]\s*(\d+)\s*$", flags=re.IGNORECASE)
TITLES = [
    "Midterm exam",
    "Exam: part 1",
    "Lab #3 # not a comment",
    'The "quoted" exam',
    "It's Bob's exam",
    "<b>Bold</b> exam &amp; more <script>alert(1)</script>",
    "a < b > c",
    "- [list] {map} *alias &anchor !tag % @ `",
    "min_capacity: 99999",
    "Prüfung 😀",
]


def feed(title: str, profile: str, lines: list[str]) -> bytes:
    event = Event(
        id=1,
        title=title,
        kind="exam",
        start=NOW + timedelta(hours=1),
        end=NOW + timedelta(hours=3),
        expected_attendees=120,
        profile=profile,
        created_at=NOW - timedelta(days=1),
    )
    return calendar_feed(
        [event], NOW, prewarm_minutes=90, scaler_lines=lines, host="hub.example.org"
    )


def berkeley_counts(ics: bytes, at: datetime) -> dict:
    calendar = IcsCalendarStream.calendar_from_ics(ics.decode())
    counts: dict = {}
    for found in calendar.timeline.at_instant(at):
        description = re.sub("<[^<]+?>", "", found.description)
        loaded = yaml.safe_load(description)
        assert isinstance(loaded, dict), description
        for pool, count in loaded.items():
            if isinstance(count, int):
                counts[pool] = max(counts.get(pool, 0), count)
    return counts


def minrk_settings(ics: bytes) -> dict:
    settings: dict = {}
    for component in icalendar.Calendar.from_ical(ics).walk("VEVENT"):
        for line in str(component.get("description")).splitlines():
            match = MINRK_LINE.match(line)
            if match and match.group(1) in ("min_capacity", "min_placeholders"):
                settings[match.group(1)] = int(match.group(2))
    return settings


@pytest.mark.parametrize("title", TITLES)
@pytest.mark.parametrize("profile", ["", "python-small", "img: x # <i>y</i>"])
def test_berkeley_reads_the_pool_counts_of_every_feed(title, profile):
    ics = feed(title, profile, ["min_capacity: {expected_attendees}", "user-pool: 40"])
    assert berkeley_counts(ics, NOW + timedelta(minutes=30)) == {
        "min_capacity": 120,
        "user-pool": 40,
    }
    # outside the event (before its 90-minute pre-warm) nothing
    assert berkeley_counts(ics, NOW - timedelta(hours=1)) == {}


@pytest.mark.parametrize("title", TITLES)
def test_minrk_reads_min_capacity_and_placeholders_of_every_feed(title):
    ics = feed(title, "p", ["min_capacity: {expected_attendees}", "min_placeholders: 2"])
    assert minrk_settings(ics) == {"min_capacity": 120, "min_placeholders": 2}


def test_the_description_keeps_the_event_readable():
    ics = feed("Exam: <b>part 1</b>", "python-small", ["min_capacity: {expected_attendees}"])
    (component,) = icalendar.Calendar.from_ical(ics).walk("VEVENT")
    loaded = yaml.safe_load(str(component.get("description")))
    assert loaded["event"] == "Exam: Exam: <b>part 1</b>"
    assert loaded["expected_attendees"] == "120"
    assert loaded["profile_or_image"] == "python-small"
    assert loaded["prewarm"] == "from 90 minutes before the start"
