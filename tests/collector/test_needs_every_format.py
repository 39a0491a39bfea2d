"""A collector report that misses nothing (#19): an exam 6 days away with an incomplete
checklist is in the table, CSV, JSON, HTML, the summary HTML and the summary PDF, and "Needs"
names it in each; one title form; the HTML table fits a 1,280 px window (Chromium)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import shutil
import subprocess
from datetime import datetime, timezone

import pytest
from harness.browser import chromium_context
from harness.collector import make_event, make_status

from jupyterhub_onboarding.collector.files import write_hub_files, write_summary
from jupyterhub_onboarding.collector.rows import hub_events, order_rows, read_answer
from jupyterhub_onboarding.collector.writers import render

NOW = datetime(2026, 12, 4, 14, 34, tzinfo=timezone.utc)
MONTH = "2026-12"
NEEDS = "event not ready: Midterm exam (in 6 days, checklist 1/4)"


def status(events=(), **figures):
    values = dict(
        now=NOW,
        live_days_ago=90,
        logged_in=153,
        started_server=140,
        months={"2026-11": (150, 120), MONTH: (41, 30)},
        rolling_30d=120,
        usage={MONTH: (1234, 5678.9, 159.3, 40)},
        events=list(events),
    )
    return make_status(**{**values, **figures})


def hubs():
    """Eight hubs with long names; one has its exam in 6 days with 1 of 4 items ticked."""
    exam = make_event(NOW, days_ahead=6, checklist=("resources",))
    ready = make_event(NOW, days_ahead=9, title="Workshop", kind="workshop", checklist=(
        "resources", "image", "prewarm", "support"))  # fmt: skip
    answers = [
        read_answer("University of Example, Data Science", "https://datahub.example.edu",
                    status([exam]), month=MONTH),
        read_answer("Climate Lab", "https://climate.example.org", status([ready]), month=MONTH),
    ]  # fmt: skip
    answers += [
        read_answer(f"Community hub number {i} with a long name", f"https://hub{i}.example.org",
                    status(), month=MONTH)
        for i in range(6)
    ]  # fmt: skip
    return answers


def test_the_unprepared_exam_is_named_in_every_format(tmp_path):
    answers = hubs()
    rows = order_rows(hub.row for hub in answers)
    events = hub_events(answers)
    kwargs = dict(month=MONTH, generated_at="2026-12-04T14:34:00Z", events=events)
    assert rows[0].hub.startswith("University") and rows[0].action == "event not ready"
    assert rows[0].needs == NEEDS
    ready = next(row for row in rows if row.hub == "Climate Lab")
    assert ready.needs is None and ready.action == ""
    # incomplete 9 days ahead: beyond the lead time of 7 days, listed but not a need
    later = make_event(NOW, days_ahead=9, title="Final exam", checklist=("resources",))
    assert read_answer("x", "u", status([later]), month=MONTH).row.needs is None

    table = render("table", rows, **kwargs)
    assert table.startswith("Onboarding report: December 2026, to date, generated 4 December")
    assert NEEDS in table and "in 6 days" in table.split("\n\n")[1]  # the events ahead

    (record, *_) = csv.DictReader(io.StringIO(render("csv", rows, **kwargs)))
    assert record["needs"] == NEEDS
    assert record["unprepared_event"] == "Midterm exam (in 6 days, checklist 1/4)"

    document = json.loads(render("json", rows, **kwargs))
    assert document["hubs"][0]["needs"] == NEEDS
    assert [event["title"] for event in document["events"]] == ["Midterm exam", "Workshop"]

    page = render("html", rows, **kwargs)
    assert "Onboarding report: December 2026, to date<" in page and "None planned" not in page
    shown = " ".join(page.split())
    assert "event not ready</span> Midterm exam (in 6 days, checklist 1/4)" in shown

    rows_out, files = write_hub_files(tmp_path, "html", answers, month=MONTH)
    summary = write_summary(
        tmp_path, "html", rows_out, month=MONTH, month_to_date=True,
        generated_at="2026-12-04T14:34:00Z", events=events, files=files,
    )  # fmt: skip
    text = summary.read_text()
    assert "None planned" not in text
    assert "event not ready</span> Midterm exam (in 6 days" in " ".join(text.split())
    events_part = text[text.index('id="events"') : text.index('id="hubs"')]
    assert "Midterm exam" in events_part and "1/4 not ready" in events_part
    assert 'href="University-of-Example-Data-Science-2026-12.html"' in text


@pytest.mark.integration  # pdftotext
@pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs poppler-utils")
def test_the_summary_pdf_lists_the_events_and_names_the_need(tmp_path):
    answers = hubs()
    rows, _files = write_hub_files(tmp_path, "pdf", answers, month=MONTH)
    summary = write_summary(
        tmp_path, "pdf", rows, month=MONTH, month_to_date=True,
        generated_at="2026-12-04T14:34:00Z", events=hub_events(answers),
    )  # fmt: skip
    done = subprocess.run(["pdftotext", str(summary), "-"], capture_output=True, check=True)
    flat = " ".join(done.stdout.decode().split())
    assert "Onboarding report: December 2026, to date" in flat
    assert "Events in the next 14 days" in flat and "None planned" not in flat
    assert "Midterm exam" in flat and "1/4 not ready" in flat
    assert "event not ready: Midterm exam (in 6 days, checklist 1/4)" in flat
    assert "generated 4 December 2026, 14:34 UTC" in flat.replace("Generated", "generated")


@pytest.mark.integration
def test_the_html_table_fits_a_1280_px_window(tmp_path):
    answers = hubs()
    rows, files = write_hub_files(tmp_path, "html", answers, month=MONTH)
    # one hub reads its cloud cost: the summary has that column too
    costly = dataclasses.replace(rows[0], cloud_cost=123456.78, cloud_cost_currency="USD")
    rows = [costly, *rows[1:]]
    summary = write_summary(
        tmp_path, "html", rows, month=MONTH, month_to_date=True,
        generated_at="2026-12-04T14:34:00Z", events=hub_events(answers), files=files,
    )  # fmt: skip
    with chromium_context(tmp_path / "profile", viewport={"width": 1280, "height": 900}) as ctx:
        page = ctx.new_page()
        page.goto(summary.as_uri())
        page.wait_for_selector("table.hubs tbody tr")
        assert page.locator("td.cloud-cost").first.inner_text() == "123,456.78 USD"
        width = page.evaluate("document.querySelector('table.hubs').getBoundingClientRect().right")
        scroll = page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(tmp_path / "summary-1280.png"), full_page=True)
    assert width <= 1280 and scroll <= 1280, (width, scroll)
