"""Events on a real hub: the API with admin, non-admin and service tokens, the calendar feed
read back with icalendar and with ical (the parser calendar-driven scalers use), the status
API and metrics, and planned against actual from real servers started in an event's window."""

from __future__ import annotations

import re
from contextlib import closing
from datetime import datetime, timedelta, timezone

import httpx
import icalendar
import pytest
from harness.hub import HubProcess, running_hub
from harness.process import wait_until
from ical.calendar_stream import IcsCalendarStream
from prometheus_client.parser import text_string_to_metric_families

from jupyterhub_onboarding.core.events import MAX_CONTACT, MAX_NOTES, MAX_PROFILE, MAX_TITLE

pytestmark = pytest.mark.integration

HUB_CONFIG = """
c.JupyterHub.load_roles.append(
    {"name": "event-reader", "scopes": ["access:services!service=onboarding"],
     "users": ["carol"]}
)
"""
SERVICE_CONFIG = """
c.Onboarding.event_prewarm_minutes = 45
c.Onboarding.event_scaler_lines = ["min_capacity: {expected_attendees}", "min_placeholders: 2"]
"""
HOSTILE = 'Exam <script>alert("x")</script>, part;1\\nBEGIN:VEVENT'


def iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def now() -> datetime:
    return datetime.now(timezone.utc)


def user_token(hub: HubProcess, name: str, scopes: list[str] | None = None) -> str:
    hub.api("POST", f"users/{name}")  # exists already or is created
    body = {"note": "events test"} | ({"scopes": scopes} if scopes else {})
    response = hub.api("POST", f"users/{name}/tokens", json=body)
    assert response.status_code == 201, response.text
    return response.json()["token"]


def call(hub: HubProcess, method: str, path: str, token: str, **kwargs) -> httpx.Response:
    return httpx.request(
        method,
        f"{hub.service_url}{path}",
        headers={"Authorization": f"token {token}"},
        timeout=30,
        **kwargs,
    )


def exam(begin: datetime, **changes) -> dict:
    body = {
        "title": "Midterm exam",
        "kind": "exam",
        "start": iso(begin),
        "end": iso(begin + timedelta(hours=2)),
        "expected_attendees": 120,
        "profile": "python-small",
        "notes": "room 101, secret",
        "contact": "ta@example.org",
        "time_zone": "Europe/Berlin",
    }
    body.update(changes)
    return body


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("events-hub")
    with running_hub(workdir, hub_config=HUB_CONFIG, service_config=SERVICE_CONFIG) as hub:
        yield hub


@pytest.fixture(scope="module")
def tokens(hub):
    return {
        "admin": user_token(hub, "admin"),
        "carol": user_token(hub, "carol"),
    }


def test_admin_creates_reads_changes_and_deletes_an_event(hub, tokens):
    start = (now() + timedelta(days=10)).replace(microsecond=0)
    created = call(hub, "POST", "api/v1/events", tokens["admin"], json=exam(start))
    assert created.status_code == 201, created.text
    event = created.json()
    assert event["status"] == "planned" and event["actual"] is None
    assert event["start"] == iso(start.replace(microsecond=0))
    assert created.headers["Location"].endswith(f"api/v1/events/{event['id']}")

    # the status reader sees it without notes or contacts; the admin sees them
    public = call(hub, "GET", "api/v1/events", hub.status_token).json()
    (listed,) = [e for e in public["upcoming"] if e["id"] == event["id"]]
    assert "notes" not in listed and "contact" not in listed
    private = call(hub, "GET", f"api/v1/events/{event['id']}", tokens["admin"]).json()
    assert private["notes"] == "room 101, secret"

    changed = call(
        hub,
        "PATCH",
        f"api/v1/events/{event['id']}",
        tokens["admin"],
        json={"expected_attendees": 150, "checklist": {"resources": True, "image": True}},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["expected_attendees"] == 150
    assert changed.json()["checklist"]["image"] is True
    assert changed.json()["checklist"]["complete"] is False

    status = hub.status()
    (upcoming,) = [e for e in status["events"]["upcoming"] if e["id"] == event["id"]]
    assert upcoming["expected_attendees"] == 150 and 9.9 < upcoming["days_until"] <= 10
    assert upcoming["checklist"]["resources"] is True

    deleted = call(hub, "DELETE", f"api/v1/events/{event['id']}", tokens["admin"])
    assert deleted.status_code == 204
    assert call(hub, "GET", f"api/v1/events/{event['id']}", tokens["admin"]).status_code == 404


def test_only_admins_change_events(hub, tokens):
    body = exam(now() + timedelta(days=3))
    for token in (hub.status_token, tokens["carol"]):
        assert call(hub, "POST", "api/v1/events", token, json=body).status_code == 403
    # the non-admin with access to the service may read
    assert call(hub, "GET", "api/v1/events", tokens["carol"]).status_code == 200
    created = call(hub, "POST", "api/v1/events", tokens["admin"], json=body).json()
    for token in (hub.status_token, tokens["carol"]):
        path = f"api/v1/events/{created['id']}"
        assert call(hub, "PATCH", path, token, json={"title": "x"}).status_code == 403
        assert call(hub, "DELETE", path, token).status_code == 403
    assert call(hub, "GET", "api/v1/events", "not-a-token").status_code == 401
    assert httpx.get(f"{hub.service_url}api/v1/events", timeout=10).status_code == 401
    call(hub, "DELETE", f"api/v1/events/{created['id']}", tokens["admin"])


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"end": "2020-01-01T00:00:00Z", "start": "2019-12-31T00:00:00Z"}, "start"),
        ({"expected_attendees": "many"}, "expected_attendees"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"title": "t" * 5000}, "title"),
        ({"kind": "party"}, "kind"),
        ({"start": "soon"}, "start"),
        ({"status": "done"}, "status"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_bad_input_is_400_with_the_field_named_and_nothing_stored(hub, tokens, changes, field):
    before = call(hub, "GET", "api/v1/events", tokens["admin"]).json()
    body = exam(now() + timedelta(days=2), **changes)
    response = call(hub, "POST", "api/v1/events", tokens["admin"], json=body)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field
    assert field in response.json()["message"]
    assert call(hub, "GET", "api/v1/events", tokens["admin"]).json() == before


def test_end_before_start_and_a_body_that_is_not_json(hub, tokens):
    start = now() + timedelta(days=2)
    body = exam(start, end=iso(start - timedelta(hours=1)))
    response = call(hub, "POST", "api/v1/events", tokens["admin"], json=body)
    assert (response.status_code, response.json()["field"]) == (400, "end")
    response = call(hub, "POST", "api/v1/events", tokens["admin"], content=b"{not json")
    assert (response.status_code, response.json()["field"]) == (400, "body")


def test_the_feed_is_found_by_icalendar_and_by_the_scalers_parser(hub, tokens):
    start = (now() + timedelta(days=5)).replace(microsecond=0)
    event = call(
        hub, "POST", "api/v1/events", tokens["admin"], json=exam(start, title=HOSTILE)
    ).json()
    cancelled = call(
        hub, "POST", "api/v1/events", tokens["admin"], json=exam(start, title="Cancelled demo")
    ).json()
    call(
        hub,
        "PATCH",
        f"api/v1/events/{cancelled['id']}",
        tokens["admin"],
        json={"status": "cancelled"},
    )
    assert httpx.get(f"{hub.service_url}events.ics", timeout=10).status_code == 401
    response = call(hub, "GET", "events.ics", hub.status_token)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/calendar")
    text = response.text
    assert "room 101" not in text and "ta@example.org" not in text and "admin" not in text

    calendar = icalendar.Calendar.from_ical(response.content)
    entries = [c for c in calendar.walk("VEVENT")]
    (entry,) = [c for c in entries if str(c["SUMMARY"]).endswith(HOSTILE)]
    assert not [c for c in entries if "Cancelled demo" in str(c["SUMMARY"])]
    assert entry.decoded("DTSTART") == start - timedelta(minutes=45)
    assert entry.decoded("DTEND") == start + timedelta(hours=2)
    assert entry.decoded("DTSTART").tzinfo is not None
    description = str(entry["DESCRIPTION"]).splitlines()
    assert description[-2:] == ["min_capacity: 120", "min_placeholders: 2"]
    uid = str(entry["UID"])
    again = icalendar.Calendar.from_ical(call(hub, "GET", "events.ics", hub.status_token).content)
    assert uid in {str(c["UID"]) for c in again.walk("VEVENT")}

    parsed = IcsCalendarStream.calendar_from_ics(text)
    timeline = parsed.timeline_tz(timezone.utc)
    inside_prewarm = start - timedelta(minutes=10)
    found = [e for e in timeline.at_instant(inside_prewarm) if e.uid == uid]
    assert found and found[0].description.splitlines()[-1] == "min_placeholders: 2"
    # commas, semicolons and markup come through as text, and no second event was injected
    assert found[0].summary.startswith('Exam: Exam <script>alert("x")</script>, part;1')
    assert len([e for e in timeline.at_instant(inside_prewarm)]) == 1
    after_end = start + timedelta(hours=2, minutes=1)
    assert not [e for e in timeline.at_instant(after_end) if e.uid == uid]
    assert not [e for e in timeline.at_instant(start - timedelta(minutes=50)) if e.uid == uid]
    for created in (event, cancelled):
        call(hub, "DELETE", f"api/v1/events/{created['id']}", tokens["admin"])


def metric(text: str, name: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    return None


def test_planned_against_actual_from_real_servers_in_the_window(hub, tokens):
    start = now() + timedelta(seconds=3)
    body = exam(start, end=iso(start + timedelta(seconds=45)), expected_attendees=3)
    event = call(hub, "POST", "api/v1/events", tokens["admin"], json=body).json()
    scrape = call(hub, "GET", "metrics", hub.status_token).text
    assert metric(scrape, "jupyterhub_onboarding_next_event_expected_attendees") == 3
    assert metric(scrape, "jupyterhub_onboarding_next_event_checklist_complete") == 0
    wait_until(lambda: now() > start + timedelta(seconds=1), 30, "the event's start")
    for name in ("ana", "ben"):
        hub.api("POST", f"users/{name}")
        hub.start_server(name)
    hub.wait_for_status(lambda s: s["usage"]["peak_concurrent_servers"] >= 2)
    hub.stop_server("ben")

    def measured():
        found = call(hub, "GET", f"api/v1/events/{event['id']}", tokens["admin"]).json()
        return found if found["actual"] is not None else None

    done = wait_until(measured, 120, "the event's actual", interval=0.5)
    assert done["status"] == "done"
    assert done["actual"] == {"peak_concurrent_servers": 2, "sessions": 2, "users": 2}
    hub.stop_server("ana")
    # the admin's events page shows the event planned against what happened
    with closing(hub.login("admin")) as client:
        # the Events page opened first: through the hub's login, not a 403
        response = client.get(hub.service_url + "events")
        assert response.status_code == 200, response.status_code
        html = response.text
    shown = html[html.index(f'id="event-{event["id"]}"') :]
    assert "Planned against actual" in shown
    assert re.search(r'class="text-end actual-users">2<', shown)
    assert re.search(r'class="text-end actual-peak">2<', shown)
    assert re.search(r'class="text-end actual-sessions">2<', shown)


#: Text a hostile or careless admin might type: markup that closes a script, JSON and
#: iCalendar specials (quotes, a backslash, commas, semicolons), non-Latin text. Notes may
#: also hold line breaks (the one-line fields refuse them with a 400; line separators and
#: bidirectional controls are refused everywhere: tests/core/test_safetext.py).
NASTY = '</script><img src=x onerror=alert(1)> "q" \\ a,b;c BEGIN:VEVENT ü 试 🎓'


def fill(text: str, limit: int) -> str:
    """*text* repeated up to *limit* characters, as an admin's form would keep it."""
    return (text * (limit // len(text) + 1))[:limit].strip()


def test_hostile_text_comes_back_exactly_from_the_json_and_escaped_in_the_page(hub, tokens):

    body = exam(
        (now() + timedelta(days=6)).replace(microsecond=0),
        title=fill(NASTY, MAX_TITLE),
        profile=fill(NASTY, MAX_PROFILE),
        notes=fill(NASTY + "\nline two\n", MAX_NOTES),
        contact=fill(NASTY, MAX_CONTACT),
    )
    created = call(hub, "POST", "api/v1/events", tokens["admin"], json=body)
    assert created.status_code == 201, created.text
    event_id = created.json()["id"]
    for response in (
        created,
        call(hub, "GET", f"api/v1/events/{event_id}", tokens["admin"]),
    ):
        assert response.headers["Content-Type"].startswith("application/json")
        document = response.json()
        for name in ("title", "profile", "notes", "contact"):
            assert document[name] == body[name], name  # not cut, not mangled
        # escaped by the JSON encoding: no raw line break, separator or non-ASCII character
        assert "\r" not in response.text and "\n" not in response.text
        assert "ü" not in response.text and "🎓" not in response.text
        assert "\\u00fc" in response.text and '\\"q\\"' in response.text
    listed = call(hub, "GET", "api/v1/events", hub.status_token).json()
    (public,) = [e for e in listed["upcoming"] if e["id"] == event_id]
    assert public["title"] == body["title"] and "notes" not in public
    (upcoming,) = [e for e in hub.status()["events"]["upcoming"] if e["id"] == event_id]
    assert upcoming["title"] == body["title"]

    with closing(hub.login("admin")) as client:
        page = client.get(hub.service_url)
    assert page.status_code == 200
    html = page.text
    assert "<img src=x" not in html and "</script><img" not in html
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&#34;q&#34;" in html or "&quot;q&quot;" in html
    call(hub, "DELETE", f"api/v1/events/{event_id}", tokens["admin"])
