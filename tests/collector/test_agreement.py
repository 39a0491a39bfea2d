"""The collector's rows and the monthly report agree on every status document: the same
figures from valid ones (of this release and the ones before), the same named error (the
same type, the same message) from malformed ones. Both read a document through the one
reader, once; this shows that nothing either of them does afterwards tells them apart."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from harness.collector import make_event, make_status, months_back

from jupyterhub_onboarding.collector.files import hub_reports
from jupyterhub_onboarding.collector.rows import read_answer
from jupyterhub_onboarding.core.clock import utcnow
from jupyterhub_onboarding.core.monthly import build_report
from jupyterhub_onboarding.core.rules import add_months, month_label, parse_month
from jupyterhub_onboarding.core.status.read import StatusError, read_status

DATA = Path(__file__).resolve().parent.parent / "data"
NOW = utcnow()


def _file(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def _current() -> dict:
    """A document of this release: usage in two months, an event, a meeting not recorded."""
    return make_status(
        now=NOW,
        live_days_ago=60,
        logged_in=40,
        started_server=30,
        months={months_back(NOW, 1): (280, 120), months_back(NOW, 0): (15, 9)},
        rolling_30d=22,
        usage={
            months_back(NOW, 1): (300, 410.5, 42.0, 31),
            months_back(NOW, 0): (12, 20.25, 35.5, 4),
        },
        events=[make_event(NOW, days_ahead=3)],
    )


def _behind() -> dict:
    """A hub of a release before events: no first value, check-in due, never polled."""
    return make_status(
        now=NOW,
        live_days_ago=20,
        logged_in=2,
        started_server=1,
        months={months_back(NOW, 0): (2, 1)},
        rolling_30d=2,
        polled_ago=None,
    )


VALID = {
    "this release": _current,
    "this release, behind": _behind,
    "the previous release (471fd51)": lambda: _file("status-471fd51.json"),
    "release 0.1": lambda: _file("status-0.1.json"),
}


def _previous_month(document: dict) -> str:
    return month_label(add_months(parse_month(document["mau"]["month"]), -1))


@pytest.mark.parametrize("name", VALID)
@pytest.mark.parametrize("which", ["current", "previous"])
def test_valid_documents_give_the_same_figures_to_rows_and_reports(name, which):
    document = VALID[name]()
    month = document["mau"]["month"] if which == "current" else _previous_month(document)
    hub = read_answer("hub", "https://hub.example.org", document, month=month)
    row = hub.row
    assert row.error is None
    (entry,) = hub_reports([hub], month)
    report = entry.report
    if month < hub.status.first_value.live_since.strftime("%Y-%m"):
        # a month before the hub went live has no report; the row says why
        assert report is None and "no report: The hub went live on" in entry.row.error
        return
    assert report is not None and entry.row == row
    # the report built from the JSON alone, as the admin page's reader would
    assert build_report(read_status(document), month, hub_name="hub") == build_report(
        hub.status, month, hub_name="hub"
    )
    figures = report.figures
    assert (row.mau_login, row.mau_server) == (figures.mau.login, figures.mau.server)
    if document.get("usage") is None:  # a release before usage figures: none in the row
        assert (row.sessions, row.server_hours) == (None, None)
        assert (figures.usage.sessions, figures.usage.server_hours) == (0, 0.0)
    else:
        usage = figures.usage
        assert (
            row.sessions,
            row.server_hours,
            row.median_session_minutes,
            row.peak_concurrent_servers,
        ) == (
            usage.sessions,
            usage.server_hours,
            usage.median_session_minutes,
            usage.peak_concurrent_servers,
        )
    assert row.estimated_usage_fee == report.fee_total
    assert row.currency == report.currency
    assert row.first_value_achieved == report.first_value_achieved
    assert row.first_value_date == report.first_value_date
    assert row.days_to_first_value == report.days_to_first_value
    assert row.check_in_due == report.check_in_due
    assert row.tracker_stale == report.stale
    assert row.service_version == report.service_version


def _change(path: str, value: object, *, delete: bool = False):
    """A change of a valid document of this release at *path* (``a.b[0].c``)."""

    def apply(document: dict) -> dict:
        document = copy.deepcopy(document)
        *parents, last = path.replace("[", ".").replace("]", "").split(".")
        target: object = document
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if delete:
            del target[last]  # type: ignore[index]
        elif isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value  # type: ignore[index]
        return document

    return apply


#: name -> (the change to a valid document of this release, the start of its error)
MALFORMED = {
    "wrong type": (_change("mau.login", "15"), "mau.login is not a count"),
    "wrong type in a list": (
        _change("usage.history[0].sessions", [1]),
        "usage.history[0].sessions is not a count",
    ),
    "missing section": (_change("billing", None, delete=True), "missing billing"),
    "missing section of this release": (_change("usage", None, delete=True), "missing usage"),
    "missing field": (
        _change("first_value.check_in_due", None, delete=True),
        "missing first_value.check_in_due",
    ),
    "huge count": (_change("first_value.threshold", 10**400), "first_value.threshold is not a"),
    "huge number": (
        _change("first_value.days_to_first_value", 10**400),
        "first_value.days_to_first_value is not a number",
    ),
    "infinite number": (
        _change("billing.estimated_usage_fee", float("inf")),
        "billing.estimated_usage_fee is not a number",
    ),
    "bad date": (
        _change("first_value.achieved_at", "2026-13-45T99:00:00Z"),
        "first_value.achieved_at is not an ISO 8601 UTC time",
    ),
    "date past the year 9999": (
        _change("first_value.check_in_due_at", "9999-12-31T23:00-14:00"),
        "first_value.check_in_due_at is not an ISO 8601 UTC time",
    ),
    "bad day": (
        _change("report.months[0].peak_day", "2026-02-30"),
        "report.months[0].peak_day is not a YYYY-MM-DD date",
    ),
    "non-object history entry": (
        _change("mau.history[0]", ["2026-10", 3, 1]),
        "mau.history[0] is not an object",
    ),
    "non-object usage history entry": (
        _change("usage.history[1]", 7),
        "usage.history[1] is not an object",
    ),
    "a later schema version": (_change("schema_version", 5), "schema_version 5 is not one"),
    "not an object": (lambda document: [document], "the document is not a JSON object"),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_documents_give_the_same_named_error_to_rows_and_reports(name):
    change, message = MALFORMED[name]
    document = change(_current())
    hub = read_answer("hub", "https://hub.example.org", document)
    assert hub.status is None
    with pytest.raises(StatusError) as raised:
        build_report(read_status(document), NOW.strftime("%Y-%m"), hub_name="hub")
    assert str(raised.value).startswith(message)
    assert hub.row.error == f"wrong JSON shape: {raised.value}"
    (entry,) = hub_reports([hub], NOW.strftime("%Y-%m"))
    assert entry.report is None and entry.row == hub.row  # no report, the same error
