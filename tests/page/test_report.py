"""The monthly report from a seeded store: figures in the PDF's text (pdftotext), pages that
are not blank (pdftoppm), embedded fonts (pdffonts), the HTML, and hostile strings."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from jinja2 import FileSystemLoader, StrictUndefined

from jupyterhub_onboarding.core.checklist import OnboardingRecord
from jupyterhub_onboarding.core.hubmodel import ServerSeen, UserSeen
from jupyterhub_onboarding.core.links import Link
from jupyterhub_onboarding.core.monthly import build_report, report_data
from jupyterhub_onboarding.core.rules import CountingRules
from jupyterhub_onboarding.core.snapshot import Settings, TrackerState, build_snapshot
from jupyterhub_onboarding.core.status.read import read_status
from jupyterhub_onboarding.core.status.write import build_status, report_section, to_json
from jupyterhub_onboarding.datafiles import find_data_files_path, template_environment
from jupyterhub_onboarding.pdf import PDFRenderer
from jupyterhub_onboarding.service.store import Store

UTC = timezone.utc
RULES = CountingRules(excluded_pattern=re.compile("deployment-service-check"))
LIVE = datetime(2026, 10, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
POPPLER = all(shutil.which(tool) for tool in ("pdftotext", "pdftoppm", "pdffonts"))
needs_poppler = pytest.mark.skipif(not POPPLER, reason="needs Debian's poppler-utils")

HOSTILE = [
    '#eval("panic()") *bold* _x_ $x^2$ ]) [ // /* \\ `raw` <label> @ref #set page(width: 1cm)',
    "<script>alert(1)</script><b>bold</b>&amp;",
    "\u202eevil\u202c\x00\x1b[31m",
    "x" * 5000,
]


def seeded_store(tmp_path: Path) -> Store:
    """October: ana, bob, cyd log in, bob runs a 2-hour session; November: ana and dan log
    in, ana runs two 30-minute sessions and dan one of 90 minutes at once (peak 2 on 11-14)."""
    store = Store(f"sqlite:///{tmp_path / 'onboarding.sqlite'}")
    store.upgrade()
    oct5 = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
    user = lambda name, at, *servers: UserSeen(name, False, at, tuple(servers))  # noqa: E731

    def server(started, **options):
        return ServerSeen("", True, started, started, user_options=options)

    store.record([user(n, oct5) for n in ("ana", "cyd")], oct5, RULES)
    store.record([user("bob", oct5, server(oct5, profile="large"))], oct5, RULES)
    store.record([user("bob", oct5 + timedelta(hours=2))], oct5 + timedelta(hours=2), RULES)
    nov14 = datetime(2026, 11, 14, 10, 0, tzinfo=UTC)
    small = {"profile": "small"}
    store.record(
        [user("ana", nov14, server(nov14, **small)), user("dan", nov14, server(nov14, **small))],
        nov14,
        RULES,
    )
    half = nov14 + timedelta(minutes=30)
    store.record([user("ana", half), user("dan", nov14, server(nov14, **small))], half, RULES)
    later = nov14 + timedelta(minutes=90)
    store.record([user("ana", half), user("dan", later)], later, RULES)
    again = datetime(2026, 11, 15, 8, 0, tzinfo=UTC)
    store.record([user("ana", again, server(again, **small))], again, RULES)
    store.record([user("ana", again + timedelta(minutes=30))], again + timedelta(minutes=30), RULES)
    return store


def seeded_document(tmp_path: Path, links: list[Link] | None = None, **section) -> dict:
    store = seeded_store(tmp_path)
    try:
        aggregates = store.aggregates(NOW, threshold=3)
        aggregates = replace(aggregates, usage=store.usage_figures(NOW))
    finally:
        store.close()
    settings = Settings(hub_url="https://hub.example.org", live_since=LIVE, first_value_threshold=3)
    snapshot = build_snapshot(aggregates, settings, TrackerState(last_success_at=NOW), NOW)
    report = report_section(
        snapshot,
        links
        or [
            Link(
                "grafana_cost_url", "dashboards", "Cost dashboard", "https://grafana.example.org/c"
            )
        ],
        tier=section.get("tier", "basic"),
        support_email=section.get("support_email", "support@example.org"),
        response_time=section.get("response_time", "1 business day"),
    )
    return to_json(build_status(snapshot, record=OnboardingRecord(), report=report, events=()))


def pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_the_report_model_has_the_seeded_figures(tmp_path):
    document = seeded_document(tmp_path)
    report = build_report(read_status(document), "2026-11", hub_name="hub.example.org")
    f, p = report.figures, report.previous
    assert (f.mau.login, f.new_users, p.mau.login, p.new_users) == (2, 1, 3, 3)
    assert (f.usage.sessions, f.usage.server_hours, f.usage.peak_concurrent_servers) == (3, 2.5, 2)
    assert str(f.details.peak_day) == "2026-11-14" and f.usage.median_session_minutes == 30.0
    assert (p.usage.sessions, p.usage.server_hours) == (1, 2.0)
    assert report.first_value_date == "2026-10-05" and report.days_to_first_value == 4.38
    assert report.fee_total == 20.0 and report.previous_fee == 30.0
    assert report.month_to_date
    assert "MAU (login) fell 33% from October" in report.observations
    assert "Peak of 2 concurrent servers on 11-14" in report.observations
    assert "Most used profile: small (3 sessions)" in report.observations
    october = build_report(read_status(document), "2026-10", hub_name="h")
    assert not october.month_to_date and october.figures.details.profiles[0].name == "large"


@pytest.mark.integration  # starts a process
@needs_poppler
@pytest.mark.parametrize("paper, size", [("a4", "(A4)"), ("letter", "612 x 792 pts (letter)")])
def test_the_pdf_shows_the_figures_on_pages_with_embedded_fonts(tmp_path, paper, size):
    report = build_report(
        read_status(seeded_document(tmp_path)), "2026-11", hub_name="hub.example.org"
    )
    path = tmp_path / "report.pdf"
    path.write_bytes(PDFRenderer().render("report.typ", report_data(report), page_size=paper))
    text = pdf_text(path)
    flat = " ".join(text.split())
    assert "Usage report: November 2026" in flat and "month to date" in flat
    assert "MAU (login) 2 3 \u221233%" in flat and "New users 1 3" in flat
    assert "Reached on 2026-10-05, 4.38 days after going live" in flat
    assert "Sessions started 3" in flat and "Server-hours 2.5" in flat
    assert "Estimated usage fee $20.00" in flat and "1-10 2 $10.00 $20.00" in flat
    assert "Cloud costs pass through without markup" in flat
    assert "https://grafana.example.org/c" in flat
    for name in ("ana", "bob", "cyd", "dan"):
        assert not re.search(rf"\b{name}\b", text)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
    assert size in info
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True)
    lines = fonts.stdout.splitlines()[2:]
    assert lines, fonts.stdout
    for line in lines:
        assert line.split()[-5] == "yes", line  # the "emb" column
    subprocess.run(["pdftoppm", "-r", "30", "-gray", str(path), str(tmp_path / "p")], check=True)
    pages = sorted(tmp_path.glob("p-*.pgm"))
    assert pages
    for page in pages:
        pixels = page.read_bytes().split(b"\n", 3)[3]
        dark = sum(1 for value in pixels if value < 128)
        assert dark > len(pixels) // 200, f"{page.name} is nearly blank"


def html_report(report) -> str:
    env = template_environment(
        FileSystemLoader(find_data_files_path() / "templates"), undefined=StrictUndefined
    )
    return env.get_template("collector-hub-report.html").render(report=report, pdf_url=None)


@needs_poppler
@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_names_labels_and_link_texts_stay_text(tmp_path, hostile):
    links = [
        Link("community_docs_url", "documentation", hostile, "https://docs.example.org/"),
        Link("bad", "documentation", "script", "javascript:alert(1)"),
    ]
    document = seeded_document(
        tmp_path, links, tier=hostile, support_email=hostile, response_time=hostile
    )
    for entry in document["report"]["months"]:
        for label in entry["profiles"]:
            label["name"] = hostile
    report = build_report(read_status(document), "2026-11", hub_name=hostile)
    path = tmp_path / "hostile.pdf"
    path.write_bytes(PDFRenderer().render("report.typ", report_data(report)))
    flat = " ".join(pdf_text(path).split())
    visible = " ".join(report.hub_name.split())
    assert visible[:40] in flat  # printed as text, not run as markup
    assert "javascript:" not in flat
    assert "Estimated usage fee $20.00" in flat  # the rest of the report is intact
    html = html_report(report)
    assert "<script>" not in html and "javascript:" not in html
    assert "\u202e" not in html and "\x1b" not in html
    assert "Estimated usage fee" in html


def test_one_renderer_makes_many_pdfs(tmp_path):
    """The service keeps one renderer: every later compile works as the first did."""
    document = seeded_document(tmp_path)
    renderer = PDFRenderer()
    pdfs = [
        renderer.render(
            "report.typ", report_data(build_report(read_status(document), month, hub_name="h"))
        )
        for month in ("2026-11", "2026-10", "2026-11")
    ]
    assert all(pdf.startswith(b"%PDF-") for pdf in pdfs)
    assert len(set(pdfs)) >= 2  # two months, two reports
