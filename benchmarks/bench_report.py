"""The monthly report: render time of HTML and PDF for a hub of 10,000 users with 24 months
of history, the collector writing 100 hubs' PDFs, and the peak memory of a process that
holds a 100,000-user hub's figures and renders its report (a service does the same)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from common import Timer, log, median, print_table, user_name, write_result
from sqlalchemy import insert

from jupyterhub_onboarding.core.checklist import OnboardingRecord
from jupyterhub_onboarding.core.monthly import build_report
from jupyterhub_onboarding.core.reportdata import report_data
from jupyterhub_onboarding.core.snapshot import Settings, TrackerState, build_snapshot
from jupyterhub_onboarding.core.status.read import read_status
from jupyterhub_onboarding.core.status.write import build_status, report_section, to_json
from jupyterhub_onboarding.pdf import PDFRenderer
from jupyterhub_onboarding.service.schema import activity, sessions, users
from jupyterhub_onboarding.service.store import Store

UTC = timezone.utc
TARGET_RENDER_S = 2.0
TARGET_COLLECTOR_S = 60.0
TARGET_MEMORY_MB = 150.0


def fill(db_path: Path, count: int, months: int, now: datetime, per_user: int = 2) -> None:
    """*count* users who first logged in over *months* months, active in about half of the
    months since, and *per_user* sessions per user and month they were active in."""
    store = Store(f"sqlite:///{db_path}")
    store.upgrade()
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    month_starts = []
    for back in range(months - 1, -1, -1):
        year, month = divmod(start.year * 12 + start.month - 1 - back, 12)
        month_starts.append(datetime(year, month + 1, 1, tzinfo=UTC))
    user_rows, activity_rows, session_rows = [], [], []
    for i in range(count):
        first = i * months // count
        joined = month_starts[first] + timedelta(hours=i % 500)
        user_rows.append(
            {
                "id": i + 1,
                "name": user_name(i),
                "admin": False,
                "counted": True,
                "first_login_at": joined,
                "last_login_at": now - timedelta(days=i % 120),
            }
        )
        for m in range(first, months):
            if (i + m) % 2:
                continue
            label = month_starts[m].year * 100 + month_starts[m].month
            activity_rows.append({"user_id": i + 1, "month": label, "basis": 0, "days": 1})
            activity_rows.append({"user_id": i + 1, "month": label, "basis": 1, "days": 1})
            for s in range(per_user):
                began = (month_starts[m] + timedelta(days=1 + (i + s) % 26, hours=s)).timestamp()
                session_rows.append(
                    {
                        "user_id": i + 1,
                        "server": "",
                        "started": began,
                        "ended": min(began + 1800 + (i % 90) * 60, now.timestamp() - 1),
                        "profile": f"profile-{i % 8}",
                        "image": f"image-{i % 4}",
                    }
                )
    with store.engine.begin() as conn:
        tables = ((users, user_rows), (activity, activity_rows), (sessions, session_rows))
        for table, rows in tables:
            for first in range(0, len(rows), 20_000):
                conn.execute(insert(table), rows[first : first + 20_000])
    store.close()


def status_for(db_path: Path, now: datetime) -> dict[str, Any]:
    store = Store(f"sqlite:///{db_path}")
    aggregates = store.aggregates(now, 5)
    aggregates = replace(aggregates, usage=store.usage_figures(now))
    store.close()
    settings = Settings(hub_url="https://hub.example.org", live_since=now - timedelta(days=730))
    snapshot = build_snapshot(aggregates, settings, TrackerState(last_success_at=now), now)
    report = report_section(
        snapshot, [], tier="basic", support_email="support@example.org", response_time="1 day"
    )
    return to_json(build_status(snapshot, record=OnboardingRecord(), report=report, events=()))


def render_times(document: dict[str, Any], month: str, reps: int) -> dict[str, float]:
    from jinja2 import FileSystemLoader

    from jupyterhub_onboarding.datafiles import find_data_files_path, template_environment

    env = template_environment(FileSystemLoader(find_data_files_path() / "templates"))
    template = env.get_template("collector-hub-report.html")
    renderer = PDFRenderer()
    html_times, pdf_times = [], []
    for _ in range(reps):
        with Timer() as timer:
            report = build_report(read_status(document), month, hub_name="hub.example.org")
            template.render(report=report, pdf_url=None)
        html_times.append(timer.seconds)
        with Timer() as timer:
            report = build_report(read_status(document), month, hub_name="hub.example.org")
            renderer.render("report.typ", report_data(report))
        pdf_times.append(timer.seconds)
    return {"html_seconds": median(html_times), "pdf_seconds": median(pdf_times)}


MEMORY_SCRIPT = """
import json, sys
def hwm():
    # VmHWM: this process's peak RSS since exec (ru_maxrss would include the forking parent)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
from jupyterhub_onboarding.core.monthly import build_report
from jupyterhub_onboarding.core.reportdata import report_data
from jupyterhub_onboarding.core.status.read import read_status
from jupyterhub_onboarding.pdf import PDFRenderer
document = json.loads(open(sys.argv[1]).read())
before = hwm()
report = build_report(read_status(document), sys.argv[2], hub_name="hub")
PDFRenderer().render("report.typ", report_data(report))
after = hwm()
print(json.dumps({"peak_mb_before_render": before, "peak_mb": after}))
"""


def memory(document: dict[str, Any], month: str, scratch: Path) -> dict[str, float]:
    """Peak RSS of a process holding a hub's status document, before and after it renders
    the PDF (the figures themselves are the service's, measured in bench_usage)."""
    path = scratch / "status.json"
    path.write_text(json.dumps(document))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd()), *sys.path])}
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(path), month],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(done.stdout)


def collector(document: dict[str, Any], month: str, hubs: int, out: Path) -> float:
    from jupyterhub_onboarding.collector.files import write_hub_files, write_summary
    from jupyterhub_onboarding.collector.rows import read_answer

    with Timer() as timer:
        statuses = [
            read_answer(f"hub-{i:03d}", "https://hub.example.org", document) for i in range(hubs)
        ]
        rows, _files = write_hub_files(out, "pdf", statuses, month=month)
        write_summary(out, "pdf", rows, month=month, month_to_date=True, generated_at="now")
    return timer.seconds


def run(quick: bool) -> dict[str, Any]:
    now = datetime.now(UTC).replace(day=20, hour=12, minute=0, second=0, microsecond=0)
    month = now.strftime("%Y-%m")
    reps = 3 if quick else 7
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        scratch = Path(tmp)
        log("a hub of 10,000 users with 24 months of history")
        fill(scratch / "10k.sqlite", 10_000, 24, now)
        document = status_for(scratch / "10k.sqlite", now)
        times = render_times(document, month, reps)
        log("the collector writing 100 hubs' PDFs and the summary")
        out = scratch / "out"
        out.mkdir()
        collector_seconds = collector(document, month, 100, out)
        log("peak memory rendering the report of a 100,000-user hub")
        fill(scratch / "100k.sqlite", 100_000, 24, now, per_user=1)
        big = status_for(scratch / "100k.sqlite", now)
        mem = memory(big, month, scratch)
    table = print_table(
        "Monthly report (medians, seconds; memory in MB)",
        ["HTML 10k", "PDF 10k", "100 hubs' PDFs", "peak MB 100k (before render)", "peak MB 100k"],
        [
            (
                times["html_seconds"],
                times["pdf_seconds"],
                collector_seconds,
                mem["peak_mb_before_render"],
                mem["peak_mb"],
            )
        ],
    )
    result = {
        "targets": {
            "render_seconds": f"< {TARGET_RENDER_S}",
            "collector_seconds": f"< {TARGET_COLLECTOR_S}",
            "peak_mb": f"< {TARGET_MEMORY_MB}",
        },
        "quick": quick,
        **times,
        "collector_100_hubs_seconds": collector_seconds,
        **mem,
        "tables": [table],
    }
    write_result("report", result)
    return result


CACHE: Path | None = None
