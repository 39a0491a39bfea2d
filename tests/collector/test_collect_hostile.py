"""One hostile or broken hub never stops the collector's run: its document or its report
becomes its error row, and every other hub's files, the summary and the stored run are
written; the exit status says a hub failed. A hub is its entry in the hubs file, so a name
whose display text is cleaned keeps its report."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from harness.collector import make_status, months_back, new_token, run_cli, write_hubs
from sqlalchemy import create_engine, select

from jupyterhub_onboarding.collector.files import write_hub_files, write_summary
from jupyterhub_onboarding.collector.rows import read_answer
from jupyterhub_onboarding.collector.store import collect_hub_rows, collect_runs
from jupyterhub_onboarding.core.clock import utcnow
from jupyterhub_onboarding.datafiles import find_data_files_path
from jupyterhub_onboarding.pdf import PDFRenderer

HUGE = 10**400  # 401 digits: more than a float, a Typst integer or a spreadsheet can hold
#: A hub name whose display text is cleaned (the zero-width space becomes a visible mark).
INVISIBLE = "uni\u200ba"


def status(now, **overrides):
    """A hub 60 days live, past first value, with sessions and one profile this month."""
    document = make_status(
        now=now,
        live_days_ago=60,
        logged_in=12,
        started_server=8,
        months={months_back(now, 1): (280, 120), months_back(now, 0): (15, 9)},
        rolling_30d=20,
        usage={months_back(now, 0): (12, 20.25, 35.5, 4)},
    )
    document["usage"]["profiles"] = [{"name": "small", "sessions": 12, "server_hours": 20.25}]
    for path, value in overrides.items():
        *parents, last = path.split(".")
        target = document
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        target[last] = value
    return document


#: Stand-in name -> (change to a good document, the error its row must show).
HOSTILE = {
    "huge-threshold": ({"first_value.threshold": HUGE}, "first_value.threshold is not a count"),
    "huge-days": (
        {"first_value.days_to_first_value": HUGE},
        "first_value.days_to_first_value is not a number",
    ),
    "huge-sessions": ({"usage.sessions": HUGE}, "usage.sessions is not a count"),
    "huge-profile": (
        {"usage.profiles.0.sessions": HUGE},
        "usage.profiles[0].sessions is not a count",
    ),
    "bad-date": (
        {"first_value.achieved_at": "2026-13-45T99:00:00Z"},
        "first_value.achieved_at is not an ISO 8601 UTC time",
    ),
    "wrong-type": ({"mau.login": "12"}, "mau.login is not a count"),
}


def pdf_text(path: Path) -> str:
    done = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True)
    return " ".join(done.stdout.decode().split())


@pytest.mark.integration  # starts a process
async def test_hostile_documents_are_error_rows_and_the_rest_of_the_run_is_written(
    tmp_path, stand_in
):
    now = utcnow()
    month = months_back(now, 0)
    # stand-in name -> hub name in the hubs file
    hubs = {"good": "good", "invisible": INVISIBLE, **{name: name for name in HOSTILE}}
    for key in hubs:
        stand_in.tokens[key] = new_token()
        stand_in.documents[key] = status(now, **HOSTILE[key][0]) if key in HOSTILE else status(now)
    hubs_file = write_hubs(
        tmp_path / "hubs.yaml",
        [
            {"name": name, "hub_url": stand_in.hub_url("ok", key), "token_env": f"T_{i}"}
            for i, (key, name) in enumerate(hubs.items())
        ],
    )
    env = {f"T_{i}": stand_in.tokens[key] for i, key in enumerate(hubs)}
    out = tmp_path / "reports"
    out.mkdir()
    run = await run_cli(
        "--hubs", str(hubs_file), "--timeout", "10", "--retries", "0",
        "--format", "pdf", "--output-dir", str(out), "--store", "runs.sqlite",
        cwd=tmp_path, env=env,
    )  # fmt: skip

    assert run.returncode == 1, run.stderr  # a hub failed
    for trouble in ("Traceback", "OverflowError", "number out of range", "no summary"):
        assert trouble not in run.stderr
    # every hub that sent a status document has its report, the cleaned name included
    assert sorted(path.name for path in out.iterdir()) == [
        f"good-{month}.pdf",
        f"summary-{month}.pdf",
        f"uni-a-{month}.pdf",
    ]
    engine = create_engine(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    try:
        with engine.connect() as connection:
            (stored_run,) = connection.execute(select(collect_runs)).all()
            rows = {row.hub: row for row in connection.execute(select(collect_hub_rows))}
    finally:
        engine.dispose()
    assert (stored_run.hubs, stored_run.failed) == (len(hubs), len(HOSTILE))
    for name, (_change, message) in HOSTILE.items():
        assert rows[name].error.startswith(f"wrong JSON shape: {message}"), rows[name].error
        assert rows[name].reachable and rows[name].mau_login is None
        assert f"hub {name!r}: wrong JSON shape: {message}" in run.stderr
    assert rows["good"].error is None and rows["good"].mau_login == 15
    (invisible,) = [row for name, row in rows.items() if name.startswith("uni")]
    assert invisible.hub == "uni\ufffda" and invisible.error is None
    if shutil.which("pdftotext"):
        summary = pdf_text(out / f"summary-{month}.pdf")
        assert "first_value.threshold is not a count" in summary
        assert "MAU (login) 15 " in pdf_text(out / f"uni-a-{month}.pdf")


def test_a_name_cleaned_for_display_keeps_its_report(tmp_path):
    """Reports follow the hub's entry, not its cleaned name (two hubs cleaned alike too)."""
    now = utcnow()
    month = months_back(now, 0)
    hubs = [
        read_answer(INVISIBLE, "https://a.example.org", status(now)),
        read_answer("uni\u200ca", "https://b.example.org", status(now, **{"mau.login": 7})),
    ]
    assert hubs[0].row.hub == hubs[1].row.hub == "uni\ufffda"
    rows, written = write_hub_files(tmp_path, "html", hubs, month=month)
    assert [row.error for row in rows] == [None, None]
    assert {path.name for path in written} == {f"uni-a-{month}.html", f"uni-a-2-{month}.html"}
    pages = [path.read_text() for path in written]
    assert any("https://a.example.org" in page for page in pages)
    assert any("https://b.example.org" in page for page in pages)


@pytest.fixture
def failing_templates(tmp_path) -> Path:
    """The report templates, with one that Typst cannot compile for the hub "broken"."""
    templates = tmp_path / "templates"
    shutil.copytree(find_data_files_path() / "templates", templates)
    source = (templates / "report.typ").read_text()
    decode = "#let data = json(bytes(sys.inputs.data))\n"
    assert decode in source
    (templates / "report.typ").write_text(
        source.replace(decode, decode + '#if data.hub_name == "broken" { panic("no report") }\n')
    )
    return templates


def test_a_report_typst_cannot_compile_is_that_hubs_error(tmp_path, failing_templates):
    now = utcnow()
    month = months_back(now, 0)
    out = tmp_path / "out"
    out.mkdir()
    hubs = [read_answer(name, f"https://{name}.example.org", status(now)) for name in "abc"]
    hubs.insert(1, read_answer("broken", "https://broken.example.org", status(now)))
    renderer = PDFRenderer(templates=failing_templates)
    rows, written = write_hub_files(out, "pdf", hubs, month=month, renderer=renderer)
    assert [path.name for path in written] == [f"{name}-{month}.pdf" for name in "abc"]
    (broken,) = [row for row in rows if row.hub == "broken"]
    assert broken.error.startswith("no report: Typst could not compile report.typ")
    assert rows[0] is broken  # it needs attention: first in the summary
    summary = write_summary(
        out, "pdf", rows, month=month, month_to_date=True, generated_at="now", renderer=renderer
    )
    assert summary.read_bytes().startswith(b"%PDF-")
