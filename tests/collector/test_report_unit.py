"""The collector's report, pure: rows from status documents, ordering, totals and writers."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
from datetime import datetime, timezone

import pytest
from harness.collector import UNSAFE_CHARACTERS, make_event, make_status, months_back, unsafe_in

from jupyterhub_onboarding.collector.rows import (
    COLUMNS,
    CRM_COLUMNS,
    JSON_ONLY,
    HubEvent,
    Row,
    build_row,
    hub_events,
    order_rows,
    read_answer,
    totals,
)
from jupyterhub_onboarding.collector.writers import render, to_csv, to_html, to_json, to_table
from jupyterhub_onboarding.core import fees
from jupyterhub_onboarding.core.safetext import REPLACEMENT
from jupyterhub_onboarding.core.status.model import GroupUsage
from jupyterhub_onboarding.core.status.read import read_status

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
HOSTILE = "<img src=x onerror=alert(1)>"


def alpha_status(**overrides):
    """A hub past first value: 280 MAU last month, 15 this month, login basis."""
    figures = dict(
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
    )
    figures.update(overrides)
    return make_status(**figures)


def beta_status():
    """A hub 20 days live, below the threshold: check-in due; its tracker never polled."""
    return make_status(
        now=NOW,
        live_days_ago=20,
        logged_in=2,
        started_server=1,
        months={months_back(NOW, 0): (2, 1)},
        rolling_30d=2,
        polled_ago=None,
    )


def stale_status():
    return alpha_status(polled_ago=7200)


def test_columns_are_the_row_fields_in_order():
    assert [name for name in Row.__dataclass_fields__ if name not in JSON_ONLY] == list(COLUMNS)
    assert JSON_ONLY == ("group_usage",)
    assert list(COLUMNS) == [
        "hub", "url", "reachable", "first_value_achieved", "first_value_date",
        "days_to_first_value", "check_in_due", "mau_login", "mau_server", "active_30d",
        "sessions", "server_hours", "median_session_minutes", "peak_concurrent_servers",
        "groups", "estimated_usage_fee", "currency", "cloud_cost", "cloud_cost_currency",
        "estimated_total", "home_storage_bytes", "home_storage_measured_at",
        "next_event_title", "next_event_kind",
        "next_event_start", "next_event_days_until", "next_event_expected_attendees",
        "next_event_checklist_done", "next_event_checklist_total", "tracker_stale",
        "service_version", "onboarding_date", "hub_access_confirmed", "checklist_done",
        "checklist_total", "community", "community_mau_login", "community_mau_server",
        "community_estimated_usage_fee", "community_deduplicated", "error", "unprepared_event",
        "needs",
    ]  # fmt: skip


def test_row_from_a_status_document_takes_every_figure():
    document = alpha_status()
    row = build_row("alpha", "https://alpha.example.org", document)
    assert row == Row(
        hub="alpha",
        url="https://alpha.example.org",
        reachable=True,
        first_value_achieved=True,
        first_value_date=document["first_value"]["achieved_at"][:10],
        days_to_first_value=3.0,
        check_in_due=False,
        mau_login=15,
        mau_server=9,
        active_30d=22,
        sessions=12,
        server_hours=20.25,
        median_session_minutes=35.5,
        peak_concurrent_servers=4,
        groups=0,
        group_usage=(),
        estimated_usage_fee=fees.usage_fee(15),
        currency="USD",
        tracker_stale=False,
        service_version=document["version"],
        onboarding_date=None,
        hub_access_confirmed=None,
        checklist_done=document["onboarding"]["checklist_done"],
        checklist_total=14,
        error=None,
    )
    assert row.estimated_usage_fee == 125.0
    assert row.answered and row.action == ""


def test_row_carries_the_meeting_for_the_crm_record():
    document = alpha_status()
    document["onboarding"].update(
        meeting_date="2026-11-03", hub_access_confirmed=True, checklist_done=9
    )
    row = build_row("alpha", "https://alpha.example.org", document)
    assert (row.onboarding_date, row.hub_access_confirmed) == ("2026-11-03", True)
    assert (row.checklist_done, row.checklist_total) == (9, 14)
    records = list(csv.DictReader(io.StringIO(to_csv([row]))))
    crm = {name: records[0][name] for name in CRM_COLUMNS}
    assert crm == {
        "hub": "alpha",
        "url": "https://alpha.example.org",
        "onboarding_date": "2026-11-03",
        "first_value_date": document["first_value"]["achieved_at"][:10],
        "hub_access_confirmed": "true",
    }


def test_a_hub_with_an_older_service_has_no_meeting_columns():
    document = alpha_status()
    del document["onboarding"]
    row = build_row("alpha", "u", document)
    assert row.answered
    assert (row.onboarding_date, row.hub_access_confirmed, row.checklist_done) == (None,) * 3


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("meeting_date", "05/11/2026", "onboarding.meeting_date is not a YYYY-MM-DD date"),
        ("meeting_date", "=cmd()", "onboarding.meeting_date is not a YYYY-MM-DD date"),
        ("hub_access_confirmed", "yes", "onboarding.hub_access_confirmed is not true/false"),
        (
            "checklist_done",
            -1,
            "onboarding.checklist_done is not a count (a whole number from 0 to 1,000,000,000,000)",
        ),
        ("checklist_done", 99, "onboarding.checklist_done is more than checklist_total"),
    ],
)
def test_a_wrong_meeting_section_is_an_error_row(field, value, message):
    document = alpha_status()
    document["onboarding"][field] = value
    row = build_row("alpha", "u", document)
    assert row.error == f"wrong JSON shape: {message}"


def test_row_of_a_hub_behind_on_first_value():
    row = build_row("beta", "https://beta.example.org", beta_status())
    assert row.first_value_achieved is False
    assert row.first_value_date is None
    assert row.days_to_first_value is None
    assert row.check_in_due is True
    assert row.tracker_stale is True
    assert row.action == "check-in due"


def test_current_month_keeps_the_hubs_own_fee_estimate():
    document = alpha_status()
    document["billing"]["estimated_usage_fee"] = 99.5  # the hub's own tiers
    assert build_row("a", "u", document).estimated_usage_fee == 99.5
    month = document["mau"]["month"]
    assert build_row("a", "u", document, month=month).estimated_usage_fee == 99.5


def test_past_month_comes_from_history_with_the_fee_recomputed():
    row = build_row("a", "u", alpha_status(), month=months_back(NOW, 1))
    assert (row.mau_login, row.mau_server) == (280, 120)
    assert row.estimated_usage_fee == 1000.0  # the documented example: 280 MAU -> $1,000


def test_past_month_fee_uses_the_hubs_billing_basis_and_given_tiers():
    document = alpha_status(billing_basis="server")
    row = build_row("a", "u", document, month=months_back(NOW, 1))
    assert row.estimated_usage_fee == fees.usage_fee(120) == 600.0
    tiers = fees.validate_tiers([[None, 2.0]])
    row = build_row("a", "u", document, month=months_back(NOW, 1), tiers=tiers)
    assert row.estimated_usage_fee == 240.0


def test_month_missing_from_history_had_no_activity():
    row = build_row("a", "u", alpha_status(), month=months_back(NOW, 5))
    assert (row.mau_login, row.mau_server, row.estimated_usage_fee) == (0, 0, 0.0)
    # Figures that are not per month stay the current ones.
    assert row.active_30d == 22 and row.first_value_achieved is True


def test_error_row_has_no_figures():
    row = build_row("gone", "https://gone.example.org", None, reachable=False, error="timed out")
    assert row.error == "timed out" and not row.reachable and not row.answered
    assert all(
        getattr(row, name) is None
        for name in COLUMNS
        if name not in ("hub", "url", "reachable", "error", "needs")
    )
    assert row.action == row.needs == "error"


def _without(document, path):
    document = copy.deepcopy(document)
    *parents, last = path.split(".")
    target = document
    for part in parents:
        target = target[part]
    del target[last]
    return document


def _with(document, path, value):
    document = copy.deepcopy(document)
    *parents, last = path.split(".")
    target = document
    for part in parents:
        target = target[part]
    target[last] = value
    return document


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (None, "not a JSON object"),
        ([1, 2], "not a JSON object"),
        ("status", "not a JSON object"),
        ({}, "missing"),
        (_without(alpha_status(), "first_value.achieved"), "missing first_value.achieved"),
        (_without(alpha_status(), "active_users"), "missing active_users"),
        (_without(alpha_status(), "active_users.30d"), "missing active_users.30d"),
        (_with(alpha_status(), "mau.login", "12"), "mau.login is not a count"),
        (_with(alpha_status(), "mau.login", True), "mau.login is not a count"),
        (_with(alpha_status(), "mau.server", -1), "mau.server is not a count"),
        (_with(alpha_status(), "first_value.check_in_due", "no"), "check_in_due is not true"),
        (_with(alpha_status(), "billing.estimated_usage_fee", "1e3"), "is not a number"),
        (_with(alpha_status(), "billing.basis", "seats"), "billing.basis is neither"),
        (_with(alpha_status(), "first_value.achieved_at", "soon"), "is not an ISO 8601 UTC time"),
        (_with(alpha_status(), "mau.month", "November"), "mau.month is not a YYYY-MM"),
        (_with(alpha_status(), "mau.history", {"2026-10": 3}), "mau.history is not a list"),
        (_with(alpha_status(), "mau.history", [{"month": "2026-10"}]), "mau.history[0].login"),
        (_with(alpha_status(), "version", ["0.2"]), "version is not text"),
        (_with(alpha_status(), "tracker", None), "tracker is not an object"),
    ],
)
def test_wrong_shape_is_an_error_row_naming_the_field(document, message):
    row = build_row("odd", "https://odd.example.org", document)
    assert row.error is not None and row.error.startswith("wrong JSON shape: ")
    assert message in row.error
    assert row.reachable and row.mau_login is None


def test_read_status_accepts_the_services_document():
    status = read_status(alpha_status())
    (last_month,) = [entry for entry in status.mau.history if entry.month == months_back(NOW, 1)]
    assert (last_month.login, last_month.server) == (280, 120)
    assert status.billing.basis == "login"


def _rows():
    return [
        build_row("zeta", "https://zeta.example.org", alpha_status()),
        build_row("Beta", "https://beta.example.org", beta_status()),
        build_row("gamma", "https://gamma.example.org", None, reachable=False, error="refused"),
        build_row("delta", "https://delta.example.org", stale_status()),
        build_row("alpha", "https://alpha.example.org", alpha_status()),
        build_row("Echo", "https://echo.example.org", None, error="HTTP 500"),
    ]


def test_order_puts_hubs_needing_action_first():
    ordered = [row.hub for row in order_rows(_rows())]
    assert ordered == ["Echo", "gamma", "Beta", "delta", "alpha", "zeta"]
    # Check-in due and stale together: the check-in is the more urgent.
    assert order_rows(_rows())[2].tracker_stale is True


def test_totals_sum_the_hubs_that_answered():
    summary = totals(_rows())
    assert (summary.hubs, summary.answered, summary.failed) == (6, 4, 2)
    assert summary.first_value_achieved == 3
    assert summary.check_in_due == 1
    assert summary.tracker_stale == 2
    assert summary.mau_login == 15 * 3 + 2
    assert summary.mau_server == 9 * 3 + 1
    assert summary.active_30d == 22 * 3 + 2
    assert summary.estimated_usage_fee == {"USD": 3 * 125.0 + 20.0}


def _typed(name, text):
    """A CSV cell back to the row's type."""
    if text == "":
        return None
    if name in (
        "reachable",
        "first_value_achieved",
        "check_in_due",
        "tracker_stale",
        "hub_access_confirmed",
    ):
        assert text in ("true", "false")
        return text == "true"
    if name in (
        "mau_login",
        "mau_server",
        "active_30d",
        "sessions",
        "peak_concurrent_servers",
        "groups",
        "checklist_done",
        "checklist_total",
    ):
        return int(text)
    if name in (
        "days_to_first_value",
        "estimated_usage_fee",
        "server_hours",
        "median_session_minutes",
    ):
        return float(text)
    return text


def test_csv_parses_back_to_the_same_numbers():
    rows = order_rows([*_rows(), build_row("half", "u", alpha_status(), month=months_back(NOW, 1))])
    text = to_csv(rows)
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert list(parsed[0]) == list(COLUMNS)
    assert len(parsed) == len(rows)
    back = [{name: _typed(name, value) for name, value in record.items()} for record in parsed]
    assert back == [row.as_dict() for row in rows]
    assert text.count("\r\n") == len(rows) + 1  # one line per hub, spreadsheet line ends


def test_csv_days_keep_their_decimals():
    document = alpha_status()
    document["first_value"]["days_to_first_value"] = 12.37
    (record,) = csv.DictReader(io.StringIO(to_csv([build_row("a", "u", document)])))
    assert record["days_to_first_value"] == "12.37"


def test_csv_defuses_formulas_in_text_cells():
    row = Row(hub="=HYPERLINK(1)", url="u", reachable=False, error="@SUM(A1)")
    (record,) = csv.DictReader(io.StringIO(to_csv([row])))
    assert record["hub"] == "'=HYPERLINK(1)"
    assert record["error"] == "'@SUM(A1)"


def groups_back(hub: dict) -> tuple[GroupUsage, ...] | None:
    """A JSON hub's ``group_usage`` back to the row's (an unnamed group has no ``name``)."""
    found = hub["group_usage"]
    return None if found is None else tuple(GroupUsage(**{"name": None, **g}) for g in found)


def test_json_parses_back_to_the_same_numbers():
    rows = order_rows(_rows())
    document = json.loads(to_json(rows, month="2026-10", generated_at="2026-11-20T12:00:00Z"))
    assert document["month"] == "2026-10"
    assert document["generated_at"] == "2026-11-20T12:00:00Z"
    assert document["hubs"] == [row.as_json() for row in rows]
    assert [Row(**{**hub, "group_usage": groups_back(hub)}) for hub in document["hubs"]] == rows
    summary = totals(rows)
    assert document["totals"]["mau_login"] == summary.mau_login
    assert document["totals"]["estimated_usage_fee"] == {"USD": 395.0}
    assert document["totals"]["failed"] == 2


def test_html_escapes_hostile_text():
    document = alpha_status()
    document["version"] = "<script>alert(2)</script>"
    rows = [
        build_row(HOSTILE, "https://ok.example.org", document),
        build_row("js", "javascript:alert(3)", None, error='<b onmouseover="x">'),
    ]
    page = to_html(rows, month=None, generated_at="2026-11-20T12:00:00Z")
    assert HOSTILE not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script" not in page
    assert "alert(2)" not in page  # the version is a detail of the hub's own report
    assert '<b onmouseover="x">' not in page
    assert 'href="javascript:' not in page  # not turned into a link
    assert 'href="https://ok.example.org"' in page


def test_html_is_self_contained_with_totals_and_action_first():
    page = to_html(order_rows(_rows()), month="2026-10", generated_at="2026-11-20T12:00:00Z")
    assert "http://" not in page.replace('href="https://', "")
    assert "<script" not in page and "<link" not in page and "src=" not in page
    assert "Content-Security-Policy" in page
    assert "395.00 USD" in page  # fee total
    order = [page.index(f">{name}</a>") for name in ("Echo", "gamma", "Beta", "delta", "alpha")]
    assert order == sorted(order)
    assert "Onboarding report: October 2026<" in page


def test_table_lists_every_hub_with_totals_and_no_control_characters():
    rows = order_rows([*_rows(), build_row("bad\x1b[31mname", "u", None, error="x\x07")])
    text = to_table(rows, month=None, generated_at="2026-11-20T12:00:00Z")
    for row in rows:
        if row.hub.isprintable():
            assert row.hub in text
    assert "\x1b" not in text and "\x07" not in text
    assert "bad\ufffd[31mname" in text
    total_line = text.splitlines()[-1]
    assert total_line.startswith("TOTAL (7 hubs)")
    assert "395.00 USD" in total_line
    assert text.splitlines()[2] == "Events in the next 14 days: none"
    assert [line.split()[0] for line in text.splitlines()[6:13]] == [
        "bad\ufffd[31mname",
        "Echo",
        "gamma",
        "Beta",
        "delta",
        "alpha",
        "zeta",
    ]


def test_render_dispatches_every_format():
    rows = order_rows(_rows())
    kwargs = dict(month=None, generated_at="t")
    assert render("csv", rows, **kwargs) == to_csv(rows)
    assert render("json", rows, **kwargs) == to_json(rows, **kwargs)
    assert render("html", rows, **kwargs) == to_html(rows, **kwargs)
    assert render("table", rows, **kwargs) == to_table(rows, **kwargs)


MARK = "\ufffd"


def _hostile_rows():
    document = alpha_status()
    document["version"] = "1.0\x1b]0;owned\x07\u202e\ud800"
    document["billing"]["currency"] = "\x1b[31m"
    return [
        build_row("evil\u202egnp.exe\u2066\x9b", "https://ok.example.org", document),
        build_row("err", "https://err.example.org\x1b", None, error="x\x1b[2J\u200f\r\nFORGED"),
    ]


def test_rows_replace_unsafe_characters_with_a_visible_mark():
    hostile, failed = _hostile_rows()
    assert hostile.hub == f"evil{MARK}gnp.exe{MARK}{MARK}"
    assert hostile.service_version == f"1.0{MARK}]0;owned{MARK}{MARK}{MARK}"
    assert hostile.currency == f"{MARK}[31m"
    assert failed.url == f"https://err.example.org{MARK}"
    assert failed.error == f"x{MARK}[2J{MARK}{MARK}{MARK}FORGED"
    for character in UNSAFE_CHARACTERS:
        row = Row(hub=f"a{character}b", url="u", reachable=False, error=character)
        assert (row.hub, row.error) == (f"a{MARK}b", MARK), repr(character)
    # Letters of every script, spaces and punctuation stay as they are.
    text = "Université de Montréal \u2013 جامعة 大学 «hub» ?"
    assert Row(hub=text, url="u", reachable=True).hub == text


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "html"])
def test_no_format_carries_unsafe_characters(fmt):
    rows = order_rows(_hostile_rows())
    text = render(fmt, rows, month=None, generated_at="2026-11-20T12:00:00Z")
    # Line ends are the writers' own; every other unsafe character would come from a hub.
    assert unsafe_in(text) == [], fmt
    if fmt == "table":
        # title, blank, events of the next 14 days, blank, headings, rule, 2 hubs, rule, total
        assert len(text.splitlines()) == 10
    if fmt == "csv":
        cells = [cell for record in csv.reader(io.StringIO(text)) for cell in record]
        assert not [cell for cell in cells if any(c in cell for c in UNSAFE_CHARACTERS)]
    if fmt == "json":
        for string in _strings(json.loads(text)):
            assert not any(character in string for character in UNSAFE_CHARACTERS), repr(string)
    assert MARK in text
    text.encode("utf-8")  # writable: no lone surrogate left


def test_table_totals_line_has_no_escape_sequence():
    text = to_table(_hostile_rows(), month=None, generated_at="2026-11-20T12:00:00Z")
    total_line = text.splitlines()[-1]
    assert "\x1b" not in text
    assert re.search(rf"125\.00 {MARK}\[31m$", total_line)


@pytest.mark.parametrize(
    "text",
    [
        "=HYPERLINK(1)",
        " =HYPERLINK(1)",
        "   +1",
        "\u00a0=1+1",
        "\u2003\u3000-2",
        "\u202f@SUM(A1)",
        " \u00a0 =cmd",
    ],
)
def test_csv_defuses_formulas_after_leading_spaces(text):
    (record,) = csv.DictReader(io.StringIO(to_csv([Row(hub=text, url="u", reachable=False)])))
    assert record["hub"] == "'" + text


@pytest.mark.parametrize(
    ("text", "cell"),
    [("\t=1", f"{MARK}=1"), ("\r=1", f"{MARK}=1"), ("\r\n+1", f"{MARK}{MARK}+1"), ("\t", MARK)],
)
def test_csv_cells_never_start_with_a_tab_or_cr(text, cell):
    (record,) = csv.DictReader(io.StringIO(to_csv([Row(hub=text, url="u", reachable=False)])))
    assert record["hub"] == cell


@pytest.mark.parametrize("text", ["alpha", " alpha", "\u00a0beta", "1-2", "a=b", "x@y"])
def test_csv_leaves_other_text_as_it_is(text):
    (record,) = csv.DictReader(io.StringIO(to_csv([Row(hub=text, url="u", reachable=False)])))
    assert record["hub"] == text


def test_usage_columns_for_the_current_and_a_chosen_month():
    current = build_row("alpha", "u", alpha_status())
    assert (current.sessions, current.server_hours) == (12, 20.25)
    assert (current.median_session_minutes, current.peak_concurrent_servers) == (35.5, 4)
    last = build_row("alpha", "u", alpha_status(), month=months_back(NOW, 1))
    assert (last.sessions, last.server_hours, last.median_session_minutes) == (300, 410.5, 42.0)
    assert last.peak_concurrent_servers == 31
    # a month without sessions is zeros; no median without an ended session
    empty = build_row("alpha", "u", alpha_status(), month=months_back(NOW, 5))
    assert (empty.sessions, empty.server_hours, empty.median_session_minutes) == (0, 0.0, None)


def test_a_hub_without_usage_figures_keeps_its_other_figures():
    document = alpha_status()
    del document["usage"]  # a hub running an older release of the service
    row = build_row("old", "u", document)
    assert row.error is None and row.mau_login == 15
    assert (row.sessions, row.server_hours, row.peak_concurrent_servers) == (None, None, None)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.update(usage=[]), "usage"),
        (lambda d: d["usage"].update(sessions=-1), "usage.sessions"),
        (lambda d: d["usage"].update(server_hours="many"), "usage.server_hours"),
        (lambda d: d["usage"].update(history={}), "usage.history"),
        (lambda d: d["usage"]["history"][0].pop("peak_concurrent_servers"), "usage.history[0]"),
    ],
)
def test_malformed_usage_is_an_error_naming_the_field(change, field):
    document = alpha_status()
    change(document)
    row = build_row("alpha", "u", document)
    assert row.error is not None and field in row.error


def test_usage_columns_in_every_format():
    rows = [build_row("alpha", "u", alpha_status())]
    table = to_table(rows, month=None, generated_at="now")
    assert "sessions" in table and "server h" in table
    assert " 20.2 " in table or " 20.3 " in table
    html = to_html(rows, month=None, generated_at="now")
    assert "Server-hours" in html and "20.2" in html  # the median is in the hub's own report
    document = json.loads(to_json(rows, month=None, generated_at="now"))
    assert document["hubs"][0]["peak_concurrent_servers"] == 4
    assert document["totals"]["sessions"] == 12 and document["totals"]["server_hours"] == 20.25
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert parsed[0]["sessions"] == "12" and parsed[0]["median_session_minutes"] == "35.5"


# --- events ---------------------------------------------------------------------------------

#: A title a hostile or broken hub might send: markup, a terminal escape, a bidirectional
#: override, a forged line and a spreadsheet formula.
HOSTILE_TITLE = '=HYPERLINK("http://x") <b>exam</b>\x1b[31m\u202eevil\nFORGED'


def events_status(events=None, **overrides):
    """alpha's status with *events* (default: an exam in 3 days, a workshop in 20)."""
    if events is None:
        events = [
            make_event(NOW, days_ahead=20, title="Workshop", kind="workshop", event_id=2),
            make_event(NOW, days_ahead=3, checklist=("resources", "image"), event_id=1),
            make_event(NOW, days_ahead=1, title="Called off", cancelled=True, event_id=3),
            make_event(NOW, days_ahead=-5, title="Last exam", event_id=4),
        ]
    return alpha_status(events=events, **overrides)


def test_next_event_columns_come_from_events_upcoming():
    row = build_row("alpha", "https://alpha.example.org", events_status())
    assert row.error is None
    assert (row.next_event_title, row.next_event_kind) == ("Midterm exam", "exam")
    assert row.next_event_start == "2026-11-23T12:00:00Z"
    assert row.next_event_days_until == 3.0
    assert row.next_event_expected_attendees == 120
    assert (row.next_event_checklist_done, row.next_event_checklist_total) == (2, 4)
    # the hub's other figures stay as they were
    assert row.mau_login == 15 and row.sessions == 12


def test_a_running_event_is_the_next_until_it_ends():
    running = make_event(NOW, days_ahead=-1 / 24, hours=3, title="Exam now")
    row = build_row("alpha", "u", events_status([running]))
    assert row.next_event_title == "Exam now" and row.next_event_days_until == 0.0


@pytest.mark.parametrize(
    "document",
    [
        alpha_status(),  # a hub running a service without events
        events_status([]),  # nothing planned
        events_status([make_event(NOW, days_ahead=2, cancelled=True)]),
    ],
)
def test_a_hub_without_a_planned_event_has_empty_event_cells(document):
    row = build_row("old", "u", document)
    assert row.error is None and row.mau_login == 15
    assert all(getattr(row, name) is None for name in COLUMNS if name.startswith("next_event_"))
    assert hub_events([read_answer("old", "u", document)]) == []
    parsed = list(csv.DictReader(io.StringIO(to_csv([row]))))
    assert parsed[0]["next_event_title"] == "" and parsed[0]["next_event_checklist_total"] == ""


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.update(events=[]), "events is not an object"),
        (lambda d: d.update(events={}), "missing events.upcoming"),
        (lambda d: d["events"].update(upcoming={}), "events.upcoming is not a list"),
        (lambda d: d["events"]["upcoming"].append("exam"), "events.upcoming[2] is not an object"),
        (lambda d: d["events"]["upcoming"][0].pop("title"), "events.upcoming[0].title"),
        (lambda d: d["events"]["upcoming"][0].update(title=201), "upcoming[0].title is"),
        (lambda d: d["events"]["upcoming"][0].update(start="soon"), "[0].start is not an ISO"),
        (lambda d: d["events"]["upcoming"][0].update(days_until="3"), "[0].days_until is not"),
        (lambda d: d["events"]["upcoming"][0].update(expected_attendees=-1), "[0].expected_att"),
        (lambda d: d["events"]["upcoming"][0].update(checklist=[]), "[0].checklist is not an"),
        (lambda d: d["events"]["upcoming"][0]["checklist"].update(image="yes"), "[0].checklist"),
    ],
)
def test_malformed_events_are_an_error_naming_the_field(change, field):
    document = events_status()
    change(document)
    row = build_row("alpha", "u", document)
    assert row.error is not None and row.error.startswith("wrong JSON shape: ")
    assert field in row.error
    # the events list leaves such a hub out; its row says why
    assert hub_events([read_answer("alpha", "u", document)]) == []


def _event_hubs():
    """Three hubs with events, one without, one that failed: (name, document) and rows."""
    documents = {
        "zeta": events_status(),
        "Beta": events_status(
            [
                make_event(NOW, days_ahead=14, title="Demo day", kind="demo", event_id=7),
                make_event(NOW, days_ahead=14.2, title="Too late", event_id=8),
            ]
        ),
        "alpha": events_status(
            [make_event(NOW, days_ahead=3, title="Same time", kind="other", event_id=1)]
        ),
        "old": alpha_status(),
        "down": None,
    }
    rows = order_rows(
        build_row(name, f"https://{name}.example.org", document)
        if document is not None
        else build_row(name, "https://down.example.org", None, reachable=False, error="refused")
        for name, document in documents.items()
    )
    hubs = [
        read_answer(name, f"https://{name}.example.org", document)
        if document is not None
        else read_answer(name, "https://down.example.org", reachable=False, error="refused")
        for name, document in documents.items()
    ]
    return hubs, rows


def test_hub_events_lists_every_hubs_events_of_the_next_14_days_earliest_first():
    documents, _rows = _event_hubs()
    events = hub_events(documents)
    assert [(item.hub, item.event.title) for item in events] == [
        ("alpha", "Same time"),  # same start as zeta's exam: by hub name
        ("zeta", "Midterm exam"),
        ("Beta", "Demo day"),  # 14 days ahead is inside; 14.2 is not
    ]
    exam = events[1]
    assert isinstance(exam, HubEvent)
    assert exam.as_dict() == dict(
        hub="zeta",
        id=1,
        title="Midterm exam",
        kind="exam",
        start="2026-11-23T12:00:00Z",
        end="2026-11-23T14:00:00Z",
        expected_attendees=120,
        days_until=3.0,
        checklist_done=2,
        checklist_total=4,
    )
    assert not exam.event.ready
    assert [item.event.title for item in hub_events(documents, days=30)][-1] == "Workshop"


def test_events_come_first_in_table_json_and_html_and_the_csv_stays_one_line_per_hub():
    documents, rows = _event_hubs()
    events = hub_events(documents)
    kwargs = dict(month=None, generated_at="2026-11-20T12:00:00Z", events=events)

    lines = render("table", rows, **kwargs).splitlines()
    assert lines[2] == "Events in the next 14 days:"
    assert lines[3].split()[:3] == ["hub", "event", "kind"]
    assert [line.split()[0] for line in lines[5:8]] == ["alpha", "zeta", "Beta"]
    assert "2026-11-23 12:00" in lines[6] and "120" in lines[6] and "2/4 (not ready)" in lines[6]
    assert lines[8] == ""
    assert lines[9].startswith("hub ")  # then the hubs
    (zeta_line,) = [line for line in lines[9:] if line.startswith("zeta")]
    assert "Midterm exam, in 3 days, checklist 2/4" in zeta_line
    assert "event not ready: Midterm exam (in 3 days, checklist 2/4)" in zeta_line
    (old_line,) = [line for line in lines[9:] if line.startswith("old")]
    assert "2026-11-23" not in old_line and "Midterm" not in old_line

    document = json.loads(render("json", rows, **kwargs))
    assert list(document)[:4] == ["generated_at", "month", "events", "hubs"]
    assert document["events"] == [event.as_dict() for event in events]
    by_hub = {hub["hub"]: hub for hub in document["hubs"]}
    assert by_hub["zeta"]["next_event_title"] == "Midterm exam"
    assert by_hub["zeta"]["next_event_days_until"] == 3.0
    assert by_hub["Beta"]["next_event_title"] == "Demo day"
    assert by_hub["old"]["next_event_title"] is None

    parsed = list(csv.DictReader(io.StringIO(render("csv", rows, **kwargs))))
    assert len(parsed) == len(rows)  # no line per event
    zeta = next(line for line in parsed if line["hub"] == "zeta")
    assert zeta["next_event_start"] == "2026-11-23T12:00:00Z"
    assert zeta["next_event_expected_attendees"] == "120"
    assert (zeta["next_event_checklist_done"], zeta["next_event_checklist_total"]) == ("2", "4")

    page = render("html", rows, **kwargs)
    assert page.index('id="events"') < page.index('id="hubs"')
    section = page[page.index('id="events"') : page.index('id="hubs"')]
    assert section.index("Same time") < section.index("Midterm exam") < section.index("Demo day")
    assert "2/4 not ready" in section and "Too late" not in page
    assert 'class="event-not-ready"' in section


def test_no_events_ahead_is_said_in_every_report():
    rows = [build_row("old", "u", alpha_status())]
    kwargs = dict(month=None, generated_at="now")
    assert "Events in the next 14 days: none" in to_table(rows, **kwargs)
    assert json.loads(to_json(rows, **kwargs))["events"] == []
    assert "None planned." in to_html(rows, **kwargs)


def test_hostile_event_titles_are_made_safe_in_every_format():
    document = events_status([make_event(NOW, days_ahead=2, title=HOSTILE_TITLE)])
    rows = [build_row("alpha", "u", document)]
    events = hub_events([read_answer("alpha", "u", document)])
    title = events[0].event.title
    assert "\x1b" not in rows[0].next_event_title and "\u202e" not in title
    assert rows[0].next_event_title == title
    assert title.count(REPLACEMENT) == 3
    kwargs = dict(month=None, generated_at="now", events=events)
    outputs = {fmt: render(fmt, rows, **kwargs) for fmt in ("table", "json", "csv", "html")}
    for fmt, text in outputs.items():
        for unsafe in ("\x1b", "\u202e", "\nFORGED"):
            assert unsafe not in text, (fmt, unsafe)
    assert "<b>exam</b>" not in outputs["html"]
    assert "&lt;b&gt;exam&lt;/b&gt;" in outputs["html"]
    assert json.loads(outputs["json"])["events"][0]["title"] == title
    (line,) = csv.DictReader(io.StringIO(outputs["csv"]))
    assert line["next_event_title"] == "'" + title  # the formula defused
