"""A closed month's report keeps the fee written when the month closed, in its headline, its
fee section and the comparison with it, even after the fee tiers changed; the tier lines,
today's, say so."""

from __future__ import annotations

import subprocess
from datetime import datetime, timezone

import pytest
from test_report_groups import POPPLER, html_report, served

from jupyterhub_onboarding.core.monthly import build_report
from jupyterhub_onboarding.core.reportdata import report_data
from jupyterhub_onboarding.core.snapshot import (
    Aggregates,
    MonthCount,
    Settings,
)
from jupyterhub_onboarding.core.status.read import read_status
from jupyterhub_onboarding.pdf import PDFRenderer

UTC = timezone.utc
LIVE = datetime(2026, 9, 1, tzinfo=UTC)
NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
#: Today's tiers: $10 a user. October closed at 12 users under tiers of $20 a user.
TIERS = ((None, 10.0),)


def document(october_fee: float) -> dict:
    aggregates = Aggregates(
        users_logged_in=30,
        months=(
            MonthCount("2026-10", 12, 8, closed=True, estimated_usage_fee=october_fee),
            MonthCount("2026-11", 20, 10, closed=True, estimated_usage_fee=200.0),
            MonthCount("2026-12", 4, 2),
        ),
    )
    settings = Settings(hub_url="https://hub.example.org", live_since=LIVE, fee_tiers=TIERS)
    return served(aggregates, settings, NOW)


def report_of(october_fee: float, month: str):
    return build_report(read_status(document(october_fee)), month, hub_name="hub.example.org")


def test_the_closed_fee_stays_after_the_tiers_changed():
    report = report_of(240.0, "2026-10")
    assert (report.closed_fee, report.fee_total, report.tiers_total) == (240.0, 240.0, 120.0)
    html = html_report(report)
    assert "<b>$240.00</b> estimated usage fee" in html
    closed = html[
        html.index('id="report-closed-fee"') : html.index("</p>", html.index("report-closed-fee"))
    ]
    assert "written as <strong>$240.00</strong>" in closed
    assert "the tiers below are today's and would give $120.00" in closed
    fee = html[html.index('id="report-fee"') :]
    assert "<th>By today's tiers</th>" in fee and "<strong>$120.00</strong>" in fee
    data = report_data(report)["billing"]
    assert (data["total"], data["tiers_total"], data["tiers_changed"]) == (
        "$240.00",
        "$120.00",
        True,
    )


def test_the_month_after_is_compared_with_the_closed_fee():
    report = report_of(240.0, "2026-11")
    fee_change = next(c for c in report.changes if c.figure == "Estimated usage fee")
    assert (fee_change.current, fee_change.previous) == ("$200.00", "$240.00")


def test_a_closed_month_under_unchanged_tiers_says_nothing_more():
    report = report_of(120.0, "2026-10")
    html = html_report(report)
    assert "would give" not in html and "By today's tiers" not in html
    assert "<th>Estimated usage fee</th>" in html
    assert report_data(report)["billing"]["tiers_changed"] is False


@pytest.mark.integration  # reads the PDF with poppler-utils
@pytest.mark.skipif(not POPPLER, reason="needs Debian's poppler-utils")
def test_the_pdf_says_the_same(tmp_path):
    path = tmp_path / "closed.pdf"
    path.write_bytes(PDFRenderer().render("report.typ", report_data(report_of(240.0, "2026-10"))))
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = " ".join(text.split())
    assert "$240.00 MAU (logged in)" in flat  # the headline cards' values, then their labels
    assert "written as $240.00 when it closed and stays so" in flat
    assert "would give $120.00" in flat and "By today's tiers $120.00" in flat
