"""The --output-dir summary (HTML and PDF) shows each community's one MAU and fee across its
hubs, as the table, CSV, JSON and HTML report do (#21)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timezone

import pytest
from harness.collector import make_status

from jupyterhub_onboarding.collector.community import Community, CommunityHub
from jupyterhub_onboarding.collector.files import summary_data, write_hub_files, write_summary
from jupyterhub_onboarding.collector.rows import read_answer

NOW = datetime(2026, 12, 4, 14, 34, tzinfo=timezone.utc)
MONTH = "2026-11"
HOSTILE = '<b>Uni</b> #eval("1")'


def status():
    return make_status(
        now=NOW,
        live_days_ago=90,
        logged_in=70,
        started_server=60,
        months={MONTH: (60, 50)},
        rolling_30d=40,
    )


def answers():
    return [
        read_answer(name, f"https://{name}.example.org", status(), month=MONTH)
        for name in ("alpha", "beta")
    ]


def community(name: str = HOSTILE, deduplicated: bool = True) -> Community:
    return Community(
        community=name,
        month=MONTH,
        mau_login=90,
        mau_server=70,
        estimated_usage_fee=500.0,
        currency="USD",
        hubs=(CommunityHub("alpha", 60, 50, 350.0), CommunityHub("beta", 60, 40, 350.0)),
        deduplicated=deduplicated,
        note="" if deduplicated else "summed: no shared pseudonym key",
    )


def test_the_summary_data_lists_each_community_with_its_hubs():
    data = summary_data([], MONTH, False, "2026-12-04T14:34:00Z", (), [community()])
    (entry,) = data["communities"]
    assert entry["community"] == HOSTILE  # the Typst template reads it as data, not markup
    assert (entry["mau_login"], entry["mau_server"], entry["fee"]) == ("90", "70", "500.00 USD")
    assert entry["hubs"] == "alpha, beta"
    assert summary_data([], MONTH, False, "2026-12-04T14:34:00Z")["communities"] == []


def test_the_html_summary_shows_the_community_escaped(tmp_path):
    rows, files = write_hub_files(tmp_path, "html", answers(), month=MONTH)
    summary = write_summary(
        tmp_path, "html", rows, month=MONTH, month_to_date=False,
        generated_at="2026-12-04T14:34:00Z", files=files, communities=[community()],
    )  # fmt: skip
    text = summary.read_text()
    assert 'id="communities-table"' in text
    assert "&lt;b&gt;Uni&lt;/b&gt;" in text and "<b>Uni</b>" not in text
    assert "500.00 USD" in text


@pytest.mark.integration  # pdftotext
@pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs poppler-utils")
def test_the_pdf_summary_shows_the_community(tmp_path):
    rows, _files = write_hub_files(tmp_path, "pdf", answers(), month=MONTH)
    summary = write_summary(
        tmp_path, "pdf", rows, month=MONTH, month_to_date=False,
        generated_at="2026-12-04T14:34:00Z", communities=[community()],
    )  # fmt: skip
    done = subprocess.run(["pdftotext", str(summary), "-"], capture_output=True, check=True)
    flat = " ".join(done.stdout.decode().split())
    assert "Communities" in flat and HOSTILE in flat and "500.00 USD" in flat
    assert "alpha, beta" in flat
