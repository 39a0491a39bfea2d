"""The monthly report's "Usage per group" section, from the status document the service
writes: named with Onboarding.report_group_names, numbered without; hostile names as text
in the HTML and in the PDF."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timezone

import pytest
from jinja2 import FileSystemLoader, StrictUndefined

from jupyterhub_onboarding.core.checklist import OnboardingRecord
from jupyterhub_onboarding.core.monthly import Report, build_report
from jupyterhub_onboarding.core.reportdata import report_data
from jupyterhub_onboarding.core.snapshot import (
    Aggregates,
    MonthCount,
    Settings,
    TrackerState,
    build_snapshot,
)
from jupyterhub_onboarding.core.status.model import GroupUsage
from jupyterhub_onboarding.core.status.read import read_status
from jupyterhub_onboarding.core.status.write import build_status, report_section, to_json
from jupyterhub_onboarding.core.usage import MonthUsage, UsageFigures
from jupyterhub_onboarding.datafiles import find_data_files_path, template_environment
from jupyterhub_onboarding.pdf import PDFRenderer

UTC = timezone.utc
LIVE = datetime(2026, 10, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
POPPLER = all(shutil.which(tool) for tool in ("pdftotext", "pdftoppm"))

#: Names that would be markup in HTML or Typst if they were not inserted as text.
HOSTILE_NAMES = ("<script>x</script>", '#eval("1")', "] * $x$ _y_ [", "physics-101")

NOVEMBER = (
    GroupUsage(HOSTILE_NAMES[0], 12, 9, 40, 31.5, 47.0),
    GroupUsage(HOSTILE_NAMES[1], 7, 7, 22, 18.5, 95.5),
    GroupUsage(HOSTILE_NAMES[2], 3, 1, 2, 0.5, None),
    GroupUsage(HOSTILE_NAMES[3], 2, 2, 5, 4.0, 30.0),
    GroupUsage("other", 4, 2, 6, 3.0, 20.0),
)
OCTOBER = (GroupUsage("biology-lab", 5, 4, 9, 6.0, 35.0),)


def document(
    november: tuple[GroupUsage, ...] = NOVEMBER,
    october: tuple[GroupUsage, ...] = OCTOBER,
    *,
    names: bool = True,
) -> dict:
    """The status document as the service sends it, with these groups per month."""
    usage = UsageFigures(
        months=(
            MonthUsage("2026-10", sessions=9, server_hours=6.0, groups=october),
            MonthUsage("2026-11", sessions=75, server_hours=57.25, groups=november),
        )
    )
    aggregates = Aggregates(
        users_logged_in=20,
        months=(MonthCount("2026-10", 5, 4), MonthCount("2026-11", 18, 14)),
        usage=usage,
    )
    settings = Settings(
        hub_url="https://hub.example.org", live_since=LIVE, report_group_names=names
    )
    return served(aggregates, settings, NOW)


def served(aggregates: Aggregates, settings: Settings, now: datetime) -> dict:
    """The status document the service sends for these figures at *now*, as JSON."""
    snapshot = build_snapshot(aggregates, settings, TrackerState(last_success_at=now), now)
    section = report_section(
        snapshot, [], tier="basic", support_email="support@example.org", response_time="1 day"
    )
    status = build_status(snapshot, record=OnboardingRecord(), report=section, events=())
    return json.loads(json.dumps(to_json(status)))


def report_of(doc: dict, month: str = "2026-11") -> Report:
    return build_report(read_status(doc), month, hub_name="hub.example.org")


def html_report(report: Report) -> str:
    env = template_environment(
        FileSystemLoader(find_data_files_path() / "templates"), undefined=StrictUndefined
    )
    return env.get_template("collector-hub-report.html").render(report=report, pdf_url=None)


def groups_table(html: str) -> str:
    start = html.index('id="report-groups"')
    return html[start : html.index("</p>", start)]


def test_named_groups_are_listed_in_order_with_their_figures():
    report = report_of(document())
    assert [line.label for line in report.groups] == [*HOSTILE_NAMES, "Other groups"]
    assert not report.group_names_left_out
    data = report_data(report)
    assert data["groups"][0] == {
        "label": "<script>x</script>",
        "mau_login": "12",
        "mau_server": "9",
        "sessions": "40",
        "hours": "31.5",
        "median_session": "47 min",
    }
    assert data["groups"][1]["median_session"] == "1 h 36 min"
    assert data["groups"][2]["median_session"] == "\u2013"  # no ended session
    assert data["groups"][-1]["label"] == "Other groups"
    assert data["group_names_left_out"] is False


def test_html_section_escapes_the_names_and_says_rows_overlap():
    html = html_report(report_of(document()))
    table = groups_table(html)
    assert "Usage per group, November 2026, to date" in html
    assert "<script>x</script>" not in html
    assert "<td>&lt;script&gt;x&lt;/script&gt;</td>" in table
    assert "<td>#eval(&#34;1&#34;)</td>" in table and "<td>] * $x$ _y_ [</td>" in table
    assert '<td class="num">31.5</td><td class="num">47 min</td>' in table
    assert "<td>Other groups</td>" in table
    assert "counts in each, so the rows do not add up to the hub's MAU" in table
    assert "report_group_names" not in table  # the names are in the report


def test_without_names_the_groups_are_numbered_and_other_is_labelled():
    doc = document(names=False)
    assert "physics-101" not in json.dumps(doc)
    report = report_of(doc)
    labels = ["Group 1", "Group 2", "Group 3", "Group 4", "Other groups"]
    assert [line.label for line in report.groups] == labels
    assert report.group_names_left_out
    table = groups_table(html_report(report))
    assert all(f"<td>{label}</td>" in table for label in labels)
    assert "script" not in table and "eval" not in table
    assert "Group names are left out of reports unless Onboarding.report_group_names is set" in (
        table
    )
    data = report_data(report)
    assert [g["label"] for g in data["groups"]] == labels and data["group_names_left_out"]


def test_without_an_other_entry_every_group_is_numbered():
    doc = document(NOVEMBER[:2], names=False)
    assert [line.label for line in report_of(doc).groups] == ["Group 1", "Group 2"]


def test_a_closed_month_shows_its_own_groups():
    report = report_of(document(), "2026-10")
    assert [line.label for line in report.groups] == ["biology-lab"]
    assert "<td>biology-lab</td>" in groups_table(html_report(report))
    assert [g["label"] for g in report_data(report)["groups"]] == ["biology-lab"]


@pytest.mark.parametrize("older", [False, True])
def test_the_section_is_left_out_without_groups(older):
    doc = document(())
    if older:  # a hub on a release before usage per group sends no groups at all
        doc["schema_version"] = 3
        del doc["usage"]["groups"]
        for entry in doc["report"]["months"]:
            del entry["groups"]
    report = report_of(doc)
    assert report.groups == ()
    html = html_report(report)
    assert "Usage per group" not in html and 'id="report-groups"' not in html
    assert report_data(report)["groups"] == []
    pdf = PDFRenderer().render("report.typ", report_data(report))
    assert pdf.startswith(b"%PDF-")


@pytest.mark.integration  # reads the PDF with poppler-utils
@pytest.mark.skipif(not POPPLER, reason="needs Debian's poppler-utils")
@pytest.mark.parametrize("names", [True, False])
def test_the_pdf_shows_the_section_as_plain_text(tmp_path, artifacts, names):
    doc = document(
        (*NOVEMBER[:4], GroupUsage("x" * 255, 1, 1, 1, 0.25, 15.0), NOVEMBER[4]), names=names
    )
    path = tmp_path / "groups.pdf"
    path.write_bytes(PDFRenderer().render("report.typ", report_data(report_of(doc))))
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = " ".join(text.split())
    assert "Usage per group, November 2026, to date" in flat
    assert "Group MAU (logged in) MAU (started a server) Sessions Server-hours Median session" in (
        flat
    )
    if names:
        assert '<script>x</script> 12 9 40 31.5 47 min #eval("1") 7 7 22 18.5 1 h 36 min' in flat
        assert "] * $x$ _y_ [ 3 1 2 0.5 \u2013" in flat  # as text, not markup
        assert "report_group_names" not in flat
    else:
        assert "Group 1 12 9 40 31.5 47 min Group 2 7 7 22 18.5 1 h 36 min" in flat
        assert "script" not in flat and "eval" not in flat
        assert "Group names are left out of reports unless Onboarding.report_group_names" in flat
    assert "Other groups 4 2 6 3.0 20 min" in flat
    assert "the rows do not add up to the hub\u2019s MAU" in flat  # Typst's apostrophe
    assert "Estimated usage fee" in flat  # the rest of the report is intact
    # the page images, for a person to look at
    stem = artifacts / f"report-groups-{'named' if names else 'unnamed'}"
    subprocess.run(["pdftoppm", "-r", "70", "-png", str(path), str(stem)], check=True)
    assert list(artifacts.glob(f"{stem.name}-*.png"))
