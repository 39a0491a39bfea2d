"""The status contract (core/status): the writer, the reader and the published JSON Schema
agree with each other, read the documents of earlier releases, and turn every malformed or
hostile value into one StatusError that names the field."""

from __future__ import annotations

import copy
import json
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from harness.statusschema import SCHEMA_PATH, assert_valid_status, status_violations
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyterhub_onboarding.core.checklist import Meeting, OnboardingRecord
from jupyterhub_onboarding.core.events import Event
from jupyterhub_onboarding.core.links import Link
from jupyterhub_onboarding.core.rules import FIRST_MONTH, LAST_MONTH, parse_month
from jupyterhub_onboarding.core.safetext import REPLACEMENT, unsafe_characters
from jupyterhub_onboarding.core.snapshot import (
    Aggregates,
    MonthCount,
    Settings,
    TrackerState,
    build_snapshot,
)
from jupyterhub_onboarding.core.status.model import (
    MAX_COUNT,
    SCHEMA_VERSION,
    GroupUsage,
    LabelUsage,
    StatusDocument,
)
from jupyterhub_onboarding.core.status.read import StatusError, read_status
from jupyterhub_onboarding.core.status.schema import json_schema
from jupyterhub_onboarding.core.status.write import build_status, report_section, to_json
from jupyterhub_onboarding.core.usage import MonthUsage, UsageFigures

UTC = timezone.utc
DATA = Path(__file__).resolve().parent.parent / "data"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LIVE = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
#: Text a hub's admins or users could put into a document: markup, an escape sequence, a
#: bidirectional override, a forged line, a lone surrogate.
HOSTILE = "<b>x</b>\x1b[31m\u202eevil\nFORGED\ud800"


def previous_release() -> dict:
    """The document the release before schema_version served (tests/data/README.md)."""
    return json.loads((DATA / "status-471fd51.json").read_text())


def release_0_1() -> dict:
    return json.loads((DATA / "status-0.1.json").read_text())


def make_model(
    *,
    logged_in: int = 12,
    months: tuple[tuple[str, int, int], ...] = (("2026-10", 280, 120), ("2026-11", 15, 9)),
    usage: tuple[MonthUsage, ...] = (),
    label: str = "small",
    title: str = "Midterm exam",
    response_time: str = "one business day",
    record: OnboardingRecord | None = None,
    group_names: bool = False,
) -> StatusDocument:
    """The status model the service writes for these figures (with one planned event)."""
    aggregates = Aggregates(
        users_logged_in=logged_in,
        users_started_server=logged_in // 2,
        nth_seen_at={"login": LIVE + timedelta(days=3) if logged_in >= 5 else None},
        months=tuple(MonthCount(month, login, server) for month, login, server in months),
        rolling={"24h": 1, "7d": 2, "14d": 3, "30d": 4},
        usage=UsageFigures(
            months=usage
            or (
                MonthUsage(
                    "2026-11",
                    sessions=4,
                    users_with_sessions=2,
                    server_hours=3.25,
                    median_session_minutes=40.0,
                    p90_session_minutes=70.5,
                    peak_concurrent_servers=3,
                    daily_peaks=(("2026-11-14", 3),),
                    profiles=(LabelUsage(label, 3, 2.0), LabelUsage("none", 1, 1.25)),
                    groups=(
                        GroupUsage("physics-101", 2, 1, 3, 2.5, 40.0),
                        GroupUsage("other", 1, 1, 1, 0.75, None),
                    ),
                ),
            ),
            last_login_distribution={"under_1d": 2},
        ),
        new_users={"2026-11": 5},
    )
    settings_ = Settings(
        hub_url="https://hub.example.org", live_since=LIVE, report_group_names=group_names
    )
    snapshot = build_snapshot(aggregates, settings_, TrackerState(last_success_at=NOW), NOW)
    links = [Link("grafana_cost_url", "dashboards", "Cost", "https://grafana.example.org/c")]
    report = report_section(
        snapshot,
        links,
        tier="advanced",
        support_email="support@example.org",
        response_time=response_time,
    )
    event = Event(
        id=3,
        title=title,
        kind="exam",
        start=NOW + timedelta(days=2),
        end=NOW + timedelta(days=2, hours=2),
        expected_attendees=40,
        notes="room 101",
        contact="ta@example.org",
        checklist=frozenset({"image"}),
    )
    return build_status(
        snapshot, record=record or OnboardingRecord(), report=report, events=[event]
    )


def over_the_wire(model: StatusDocument) -> dict:
    """The model as a client receives it: written, encoded, decoded."""
    return json.loads(json.dumps(to_json(model)))


# -- the published schema -------------------------------------------------------------------


def test_the_published_schema_is_the_one_the_model_gives():
    published = json.loads(SCHEMA_PATH.read_text())
    assert published == json_schema(), (
        "docs/status.schema.json is out of date: "
        "python -m jupyterhub_onboarding.core.status.schema > docs/status.schema.json"
    )


def test_the_openapi_status_response_refers_to_the_published_schema():
    text = (SCHEMA_PATH.parent / "openapi.yaml").read_text()
    assert text.startswith("openapi: 3.1.")  # JSON Schema 2020-12 dialect
    assert '$ref: "status.schema.json"' in text


def openapi_month_patterns() -> list[str]:
    text = (SCHEMA_PATH.parent / "openapi.yaml").read_text()
    patterns = re.findall(r'pattern: "([^"]*\(0\[1-9\]\|1\[0-2\]\)[^"]*)"', text)
    assert patterns, "no month pattern in docs/openapi.yaml"
    return patterns


@pytest.mark.parametrize("pattern", openapi_month_patterns())
def test_every_month_the_openapi_pattern_allows_is_one_the_service_reads(pattern):
    """A month the published pattern allows is answered, never refused as malformed."""

    @settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
    @given(st.from_regex(pattern, fullmatch=True))  # ECMA: no newline before $
    def check(label):
        assert FIRST_MONTH <= parse_month(label) <= LAST_MONTH

    check()
    # months no date can hold are outside the pattern
    assert not re.search(pattern, "0000-01") and not re.search(pattern, "9999-12")


# -- writer, reader and schema agree --------------------------------------------------------


def test_what_the_service_writes_reads_back_the_same_and_is_valid():
    meeting = Meeting(date(2026, 11, 19), True, "secret-admin-name", NOW)
    model = make_model(record=OnboardingRecord(meeting=meeting))
    document = over_the_wire(model)
    assert document["schema_version"] == SCHEMA_VERSION == 4
    assert_valid_status(document)
    assert read_status(document) == model
    assert "secret-admin-name" not in json.dumps(document)
    assert "room 101" not in json.dumps(document) and "ta@example.org" not in json.dumps(document)
    assert document["onboarding"]["meeting_date"] == "2026-11-19"
    assert document["report"]["months"][0]["peak_day"] == "2026-11-14"
    assert document["events"]["upcoming"][0]["checklist"]["complete"] is False
    # every bucket is written, also before the service has counted any user in it
    assert document["usage"]["last_login_distribution"]["over_90d"] == 0


@pytest.mark.parametrize("names", [False, True])
def test_group_names_leave_the_hub_only_when_enabled(names):
    document = over_the_wire(make_model(group_names=names))
    assert_valid_status(document)
    groups = document["usage"]["groups"]
    assert [g["mau_login"] for g in groups] == [2, 1]
    assert (
        groups[0]["median_session_minutes"] == 40.0 and groups[1]["median_session_minutes"] is None
    )
    month_groups = document["report"]["months"][0]["groups"]
    if names:
        assert [g["name"] for g in groups] == ["physics-101", "other"]
        assert month_groups[0]["name"] == "physics-101"
    else:
        # no key at all, not null: a reader cannot tell a name was there; "other" names no
        # group and stays, so a report can tell it from the groups
        assert [g.get("name") for g in groups + month_groups] == [None, "other"] * 2
        assert "name" not in groups[0] and "name" not in month_groups[0]
        assert "physics-101" not in json.dumps(document)
    assert read_status(document) == make_model(group_names=names)


def test_a_group_name_is_never_null_and_groups_arrive_with_version_4():
    document = over_the_wire(make_model(group_names=True))
    document["usage"]["groups"][0]["name"] = None
    with pytest.raises(StatusError, match=r"usage.groups\[0\].name"):
        read_status(document)
    assert status_violations(document)
    document = over_the_wire(make_model())
    del document["usage"]["groups"]
    with pytest.raises(StatusError, match=r"^missing usage.groups$"):
        read_status(document)
    document["schema_version"] = 3
    assert read_status(document).usage.groups is None
    assert status_violations(document) == []


labels = st.text(max_size=80)
counts = st.integers(min_value=0, max_value=MAX_COUNT)
hours = st.floats(min_value=0, max_value=10**9, allow_nan=False, allow_infinity=False)


@given(
    logged_in=counts,
    login=counts,
    server=counts,
    sessions=counts,
    server_hours=hours,
    median=st.none() | hours,
    label=labels.filter(lambda text: text.strip()),
    title=st.text(min_size=1, max_size=300),
    response_time=st.text(max_size=400),
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_figures_and_text_round_trip_and_validate(
    logged_in, login, server, sessions, server_hours, median, label, title, response_time
):
    usage = MonthUsage(
        "2026-11",
        sessions=sessions,
        server_hours=server_hours,
        median_session_minutes=median,
        profiles=(LabelUsage(label, sessions, server_hours),),
    )
    model = make_model(
        logged_in=logged_in,
        months=(("2026-11", login, server),),
        usage=(usage,),
        label=label,
        title=title,
        response_time=response_time,
    )
    document = over_the_wire(model)
    assert status_violations(document) == []
    assert read_status(document) == model
    for text in (model.usage.profiles[0].name, model.events.upcoming[0].title):
        assert unsafe_characters(text) == []


def test_text_is_made_safe_and_cut_to_its_length_when_read():
    document = over_the_wire(make_model())
    document["version"] = "0.2" + "x" * 500
    document["report"]["response_time"] = HOSTILE
    document["events"]["upcoming"][0]["title"] = HOSTILE
    model = read_status(document)
    assert len(model.version) == 64 and model.version.endswith("\u2026")
    for text in (model.report.response_time, model.events.upcoming[0].title):
        assert text == "<b>x</b>\ufffd[31m\ufffdevil\ufffdFORGED\ufffd"
        assert text.count(REPLACEMENT) == 4


def test_unknown_fields_are_left_alone():
    document = over_the_wire(make_model())
    document["quota"] = {"bytes": 10**30}
    document["mau"]["history"][0]["invoiced"] = True
    assert read_status(document) == make_model()


# -- the documents of earlier releases ------------------------------------------------------


@pytest.mark.parametrize("document", [previous_release(), release_0_1()], ids=["471fd51", "0.1"])
def test_documents_of_earlier_releases_are_read_and_valid(document):
    assert_valid_status(document)
    model = read_status(document)
    assert model.schema_version == 1
    written = to_json(model)
    assert written.pop("schema_version") == 1
    assert written == document  # nothing lost, nothing added


def test_the_previous_release_has_every_section_and_0_1_none_of_the_later_ones():
    previous = read_status(previous_release())
    assert previous.usage.sessions == 4 and previous.usage.profiles[0].name == "none"
    assert previous.report.tier == "advanced" and previous.report.fee_tiers[-1] == (None, 0.0)
    (exam,) = previous.events.upcoming
    assert (exam.title, exam.checklist_done, exam.checklist_total) == ("Midterm exam: Data 8", 2, 4)
    assert previous.onboarding.first_value_date == date(2026, 12, 4)
    old = read_status(release_0_1())
    assert (old.usage, old.onboarding, old.report, old.events) == (None, None, None, None)
    assert (old.mau.login, old.billing.estimated_usage_fee) == (6, 60.0)


@pytest.mark.parametrize("section", ["usage", "onboarding", "report", "events"])
def test_a_version_2_document_has_every_section(section):
    document = over_the_wire(make_model())
    del document[section]
    with pytest.raises(StatusError, match=rf"^missing {section}$"):
        read_status(document)
    document[section] = None  # a later section is left out, never null
    with pytest.raises(StatusError, match=rf"^{section} is not an object$"):
        read_status(document)
    assert status_violations(document)


def test_a_version_2_document_is_read_without_the_previous_month_to_date():
    document = over_the_wire(make_model())
    document["schema_version"] = 2
    del document["report"]["previous_to_date"]
    assert_valid_status(document)
    model = read_status(document)
    assert model.report.previous_to_date is None
    assert "previous_to_date" not in to_json(model)["report"]
    document["schema_version"] = 3
    with pytest.raises(StatusError, match=r"^missing report\.previous_to_date$"):
        read_status(document)


def test_the_previous_month_to_date_is_cut_at_the_same_point():
    model = make_model()
    entry = model.report.previous_to_date
    assert entry.until == datetime(2026, 10, 20, 12, 0, tzinfo=UTC)  # NOW is 20 November 12:00
    assert entry.mau.month == entry.usage.month == "2026-10"


def test_each_month_of_the_mau_history_says_whether_it_is_closed_from_version_3():
    document = over_the_wire(make_model())
    assert [entry["closed"] for entry in document["mau"]["history"]] == [False] * len(
        document["mau"]["history"]
    )
    del document["mau"]["history"][0]["closed"]
    with pytest.raises(StatusError, match=r"^missing mau.history\[0\].closed$"):
        read_status(document)
    document["schema_version"] = 2  # a document of the release before closed months
    assert read_status(document).mau.history[0].closed is None
    assert status_violations(document) == []


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (5, "schema_version 5 is not one this release reads (1 to 4)"),
        (0, "schema_version 0 is not one this release reads"),
        ("2", "schema_version is not a whole number"),
        (True, "schema_version is not a whole number"),
    ],
)
def test_an_unknown_schema_version_is_named(version, message):
    document = over_the_wire(make_model())
    document["schema_version"] = version
    with pytest.raises(StatusError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_status(document)
    assert status_violations(document)


# -- malformed and hostile values ------------------------------------------------------------


def _set(document: dict, path: str, value: object) -> dict:
    document = copy.deepcopy(document)
    *parents, last = path.replace("[", ".").replace("]", "").split(".")
    target: object = document
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return document


HUGE = 10**400

MALFORMED = [
    ("first_value.threshold", HUGE, "first_value.threshold is not a count"),
    ("usage.sessions", HUGE, "usage.sessions is not a count"),
    ("usage.profiles[0].sessions", HUGE, "usage.profiles[0].sessions is not a count"),
    ("first_value.days_to_first_value", HUGE, "first_value.days_to_first_value is not a number"),
    ("billing.estimated_usage_fee", float("inf"), "billing.estimated_usage_fee is not a number"),
    ("usage.server_hours", float("nan"), "usage.server_hours is not a number"),
    ("usage.median_session_minutes", -1.5, "usage.median_session_minutes is not a number"),
    ("mau.login", MAX_COUNT + 1, "mau.login is not a count"),
    ("mau.login", 2.5, "mau.login is not a count"),
    ("mau.login", True, "mau.login is not a count"),
    ("mau.history", {"2026-10": 3}, "mau.history is not a list"),
    ("mau.history[0]", "2026-10", "mau.history[0] is not an object"),
    ("mau.history[0].month", "October", "mau.history[0].month is not a YYYY-MM month"),
    ("first_value.achieved_at", "soon", "first_value.achieved_at is not an ISO 8601 UTC time"),
    ("first_value.achieved_at", 1700000000, "first_value.achieved_at is not an ISO 8601 UTC"),
    ("first_value.live_since", "9999-12-31T23:00:00-14:00", "first_value.live_since is not an ISO"),
    ("first_value.live_since", "0001-01-01T00:00:00+01:00", "first_value.live_since is not an"),
    ("onboarding.meeting_date", "2026-02-30", "onboarding.meeting_date is not a YYYY-MM-DD"),
    ("onboarding.checklist_done", 99, "onboarding.checklist_done is more than checklist_total"),
    ("first_value.basis", "seats", "first_value.basis is neither login nor server"),
    ("hub", [], "hub is not an object"),
    ("tracker", None, "tracker is not an object"),
    ("active_users", {"24h": 1}, "missing active_users.7d"),
    ("report.fee_tiers", [[10, 1.0]], "report.fee_tiers are not fee tiers"),
    ("report.fee_tiers[0]", [10], "report.fee_tiers[0] is not a list of 2"),
    ("report.months[0].peak_day", "14th", "report.months[0].peak_day is not a YYYY-MM-DD"),
    ("events.upcoming[0].days_until", "3", "events.upcoming[0].days_until is not a number"),
    (
        "events.upcoming[0].checklist",
        {str(i): True for i in range(65)},
        "events.upcoming[0].checklist",
    ),
    ("events.upcoming[0].checklist.image", "yes", "events.upcoming[0].checklist.image is not"),
    ("version", ["0.2"], "version is not text"),
]


#: What the reader refuses that a JSON Schema cannot say: a time past the dates Python
#: represents once in UTC, one field against another, the fee tiers' order, and NaN (which
#: JSON has no way to write, and compares as within any bound).
BEYOND_THE_SCHEMA = {
    "usage.server_hours is not a number",
    "first_value.live_since is not an ISO",
    "first_value.live_since is not an",
    "onboarding.checklist_done is more than checklist_total",
    "report.fee_tiers are not fee tiers",
}


@pytest.mark.parametrize(("path", "value", "message"), MALFORMED)
def test_a_malformed_value_is_one_status_error_naming_its_field(path, value, message):
    document = _set(over_the_wire(make_model()), path, value)
    with pytest.raises(StatusError) as raised:
        read_status(document)
    assert str(raised.value).startswith(message)
    if message not in BEYOND_THE_SCHEMA:
        assert status_violations(document), "the schema must refuse what the reader refuses"


@pytest.mark.parametrize("document", [None, [], "status", 3])
def test_a_document_that_is_no_object_is_named(document):
    with pytest.raises(StatusError, match=r"^the document is not a JSON object$"):
        read_status(document)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats()
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


def _paths(value: object, prefix: str = "") -> list[str]:
    if isinstance(value, dict):
        found = []
        for key, entry in value.items():
            found += [f"{prefix}{key}", *_paths(entry, f"{prefix}{key}.")]
        return found
    if isinstance(value, list):
        found = []
        for index, entry in enumerate(value):
            path = f"{prefix.rstrip('.')}[{index}]"
            found += [path, *_paths(entry, path + ".")]
        return found
    return []


PATHS = _paths(json.loads(json.dumps(to_json(make_model()))))


@given(path=st.sampled_from(PATHS), value=json_values)
@settings(max_examples=300, deadline=None)
def test_any_value_anywhere_reads_or_is_a_status_error(path, value):
    """Whatever a hostile hub puts wherever: the model, or a StatusError, nothing else."""
    document = _set(over_the_wire(make_model()), path, value)
    try:
        model = read_status(document)
    except StatusError as error:
        assert str(error).split(" ", 1)[0] != "", error
        return
    assert_valid_status(to_json(model))
