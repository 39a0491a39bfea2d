"""Usage per group in the collector: each hub's number of groups in the CSV, the JSON, the
HTML summary and the history; the groups' figures in the JSON as the hub sent them (named
only when it names them); a document older than schema version 4 has none; a hub sending
hostile names or malformed groups spoils nothing but its own row."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from html.parser import HTMLParser

from harness.collector import (
    UNSAFE_CHARACTERS,
    entry,
    make_status,
    months_back,
    new_token,
)

from jupyterhub_onboarding.collector.app import PollSettings, poll_hubs
from jupyterhub_onboarding.collector.rows import Row, build_row, order_rows, read_answer
from jupyterhub_onboarding.collector.writers import to_csv, to_html, to_json, to_table
from jupyterhub_onboarding.core.safetext import REPLACEMENT
from jupyterhub_onboarding.core.status.model import GroupUsage

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
THIS_MONTH, LAST_MONTH = months_back(NOW, 0), months_back(NOW, 1)
HOSTILE = "<img src=x onerror=alert(1)>"
PHYSICS = GroupUsage("physics-101", 12, 9, 30, 41.5, 35.0)
CHEMISTRY = GroupUsage("chemistry", 4, 2, 5, 3.25, None)
OTHER = GroupUsage("other", 2, 1, 1, 0.5, 12.0)


def status(*, names: bool, groups=(PHYSICS, CHEMISTRY, OTHER), last_month=(CHEMISTRY,)):
    """A schema version 4 document of a hub past first value with groups this month and
    last, named only with *names* (``Onboarding.report_group_names``)."""
    return make_status(
        now=NOW,
        live_days_ago=60,
        logged_in=40,
        started_server=30,
        months={LAST_MONTH: (280, 120), THIS_MONTH: (15, 9)},
        rolling_30d=22,
        usage={THIS_MONTH: (40, 50.0, 30.0, 6)},
        events=(),
        groups={THIS_MONTH: groups, LAST_MONTH: last_month},
        group_names=names,
    )


def version_3(document: dict) -> dict:
    """*document* as a service before usage per group sends it (schema version 3)."""
    document["schema_version"] = 3
    del document["usage"]["groups"]
    for month in document["report"]["months"]:
        del month["groups"]
    return document


def figures(group: GroupUsage) -> dict:
    """A group's figures as the JSON report lists them, without its name."""
    return {
        "mau_login": group.mau_login,
        "mau_server": group.mau_server,
        "sessions": group.sessions,
        "server_hours": group.server_hours,
        "median_session_minutes": group.median_session_minutes,
    }


def csv_record(rows: list[Row], hub: str) -> dict[str, str]:
    return {record["hub"]: record for record in csv.DictReader(io.StringIO(to_csv(rows)))}[hub]


def json_hub(rows: list[Row], hub: str) -> dict:
    document = json.loads(to_json(rows, month=None, generated_at="2026-11-20T12:00:00Z"))
    return {entry["hub"]: entry for entry in document["hubs"]}[hub]


class HubsTable(HTMLParser):
    """The cells of the HTML summary's hubs table: its headings and each body row's cells."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.rows: list[list[str]] = []
        self._table = self._body = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._table = dict(attrs).get("class") == "hubs"
        elif self._table and tag == "tbody":
            self._body = True
        elif self._table and self._body and tag == "tr":
            self.rows.append([])
        elif self._table and tag in ("th", "td"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            (self.rows[-1] if self._body else self.headings).append(text)
            self._cell = None
        elif tag == "tbody":
            self._body = False
        elif tag == "table":
            self._table = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def html_groups(rows: list[Row]) -> dict[str, str]:
    """Each hub's "Groups" cell in the HTML summary, by the hub's name."""
    table = HubsTable()
    table.feed(to_html(rows, month=None, generated_at="2026-11-20T12:00:00Z"))
    column = table.headings.index("Groups")
    return {cells[0]: cells[column] for cells in table.rows}


def test_an_unnamed_hub_gives_its_number_of_groups_and_their_figures_without_names():
    document = status(names=False, groups=(PHYSICS, CHEMISTRY))
    rows = [build_row("alpha", "https://alpha.example.org", document)]
    assert (rows[0].groups, rows[0].mau_login) == (2, 15)
    assert csv_record(rows, "alpha")["groups"] == "2"
    hub = json_hub(rows, "alpha")
    assert hub["groups"] == 2
    assert hub["group_usage"] == [figures(PHYSICS), figures(CHEMISTRY)]
    assert html_groups(rows) == {"alpha": "2"}
    for text in (
        to_csv(rows),
        to_json(rows, month=None, generated_at="x"),
        to_html(rows, month=None, generated_at="x"),
    ):
        assert "physics-101" not in text and "chemistry" not in text


def test_a_named_hub_gives_its_groups_names_in_the_json_only():
    rows = [build_row("alpha", "https://alpha.example.org", status(names=True))]
    hub = json_hub(rows, "alpha")
    assert hub["groups"] == 3
    assert hub["group_usage"] == [
        {"name": "physics-101", **figures(PHYSICS)},
        {"name": "chemistry", **figures(CHEMISTRY)},
        {"name": "other", **figures(OTHER)},  # the groups beyond the most active, last
    ]
    # the CSV, the table and the HTML summary give the number, never a name
    assert csv_record(rows, "alpha")["groups"] == "3"
    assert html_groups(rows) == {"alpha": "3"}
    for text in (to_csv(rows), to_table(rows, month=None, generated_at="x")):
        assert "physics-101" not in text


def test_a_hub_with_a_service_before_usage_per_group_has_empty_groups():
    rows = [build_row("old", "https://old.example.org", version_3(status(names=True)))]
    row = rows[0]
    assert row.answered and row.mau_login == 15  # its other figures as before
    assert (row.groups, row.group_usage) == (None, None)
    assert csv_record(rows, "old")["groups"] == ""
    hub = json_hub(rows, "old")
    assert (hub["groups"], hub["group_usage"]) == (None, None)
    assert html_groups(rows) == {"old": ""}


def test_a_hub_without_an_active_group_lists_none():
    rows = [build_row("quiet", "https://quiet.example.org", status(names=True, groups=()))]
    assert csv_record(rows, "quiet")["groups"] == "0"
    hub = json_hub(rows, "quiet")
    assert (hub["groups"], hub["group_usage"]) == (0, [])
    assert html_groups(rows) == {"quiet": "0"}


def test_a_past_month_takes_that_months_groups_from_the_hubs_report():
    document = status(names=True)
    last = build_row("alpha", "u", document, month=LAST_MONTH)
    assert (last.groups, last.group_usage) == (1, (CHEMISTRY,))
    # a month the hub's report does not list had no active group
    assert build_row("alpha", "u", document, month=months_back(NOW, 5)).groups == 0
    assert build_row("old", "u", version_3(document), month=LAST_MONTH).groups is None


def test_hostile_group_names_are_escaped_in_the_html_and_cleaned_in_the_json():
    unsafe = "".join(UNSAFE_CHARACTERS)
    hostile = (
        GroupUsage(HOSTILE, 3, 1, 2, 1.0, 5.0),
        GroupUsage(f"a{unsafe}b", 1, 0, 0, 0.0, None),
    )
    document = status(names=True, groups=hostile)
    rows = [build_row("evil", "https://evil.example.org", document)]
    html = to_html(rows, month=None, generated_at="2026-11-20T12:00:00Z")
    assert "<img" not in html and "onerror" not in html
    assert html_groups(rows) == {"evil": "2"}
    names = [group["name"] for group in json_hub(rows, "evil")["group_usage"]]
    assert names[0] == HOSTILE  # JSON carries it as text, for a reader to escape
    assert names[1] == "a" + REPLACEMENT * len(UNSAFE_CHARACTERS) + "b"
    assert not any(character in names[1] for character in UNSAFE_CHARACTERS)


#: A change to a good document's groups -> the error its row must show.
MALFORMED = {
    "not-a-list": (lambda d: d["usage"].update(groups="physics"), "usage.groups is not a list"),
    "name-not-text": (
        lambda d: d["usage"]["groups"][0].update(name=101),
        "usage.groups[0].name is not text",
    ),
    "negative": (
        lambda d: d["usage"]["groups"][1].update(mau_login=-1),
        "usage.groups[1].mau_login is not a count",
    ),
    "null-name": (
        lambda d: d["usage"]["groups"][0].update(name=None),
        "usage.groups[0].name is not text",
    ),
    "report-month": (
        lambda d: d["report"]["months"][0].update(groups=[{"name": "x"}]),
        "missing report.months[0].groups[0].mau_login",
    ),
}


def test_malformed_groups_are_that_hubs_error_and_every_other_hub_is_reported():
    hubs = {"good": status(names=True)}
    for name, (change, _message) in MALFORMED.items():
        document = status(names=True)
        change(document)
        hubs[name] = document
    rows = order_rows(
        read_answer(name, f"https://{name}.example.org", doc).row for name, doc in hubs.items()
    )
    by_hub = {row.hub: row for row in rows}
    for name, (_change, message) in MALFORMED.items():
        assert (by_hub[name].error or "").startswith(f"wrong JSON shape: {message}"), name
        assert (by_hub[name].groups, by_hub[name].group_usage) == (None, None)
    assert by_hub["good"].error is None and by_hub["good"].groups == 3
    assert csv_record(rows, "good")["groups"] == "3"
    assert html_groups(rows)["good"] == "3"
    assert json_hub(rows, "good")["group_usage"][0]["name"] == "physics-101"


async def test_a_polled_hub_with_hostile_groups_spoils_nothing_but_its_row(stand_in):
    broken = status(names=True)
    broken["usage"]["groups"][0]["sessions"] = 10**400
    documents = {
        "named": status(names=True),
        "unnamed": status(names=False),
        "old": version_3(status(names=False)),
        "hostile": status(names=True, groups=(GroupUsage(HOSTILE, 1, 1, 1, 1.0, 1.0),)),
        "broken": broken,
    }
    environ, hubs = {}, []
    for name, document in documents.items():
        stand_in.documents[name] = document
        stand_in.tokens[name] = environ[f"TOKEN_{name}"] = new_token()
        hubs.append(entry(stand_in, "ok", name))
    answers = await poll_hubs(hubs, PollSettings(timeout=5, retries=0), environ=environ)
    rows = order_rows(
        read_answer(a.hub.name, a.hub.url, a.document, reachable=a.reachable, error=a.error).row
        for a in answers
    )
    counts = {row.hub: (row.groups, row.error) for row in rows}
    assert counts == {
        "broken": (None, "wrong JSON shape: usage.groups[0].sessions is not a count "
                   "(a whole number from 0 to 1,000,000,000,000)"),
        "hostile": (1, None),
        "named": (3, None),
        "old": (None, None),
        "unnamed": (3, None),
    }  # fmt: skip
    assert html_groups(rows) == {
        "broken": "",
        "hostile": "1",
        "named": "3",
        "old": "",
        "unnamed": "3",
    }
    assert "<img" not in to_html(rows, month=None, generated_at="2026-11-20T12:00:00Z")
    named = json_hub(rows, "named")["group_usage"]
    assert [group.get("name") for group in named] == ["physics-101", "chemistry", "other"]
    # "other" names no group: whether it keeps that label, no group's name is sent
    unnamed = json_hub(rows, "unnamed")["group_usage"]
    assert [group.get("name") for group in unnamed][:2] == [None, None]
    assert "physics-101" not in json.dumps(unnamed)
