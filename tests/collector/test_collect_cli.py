"""The ``jupyterhub-onboarding collect`` command line, run as a subprocess against stand-in
status endpoints: exit codes, formats, redaction, events, the progress bar, the SQLite store."""

from __future__ import annotations

import asyncio
import csv
import fcntl
import io
import json
import os
import re
import struct
import sys
import termios

import pytest
from harness import ROOT
from harness.collector import (
    SECRET,
    SUMMARY,
    check_stored,
    closed_port,
    csv_rows,
    good_status,
    make_event,
    mixed_hubs,
    months_back,
    new_token,
    run_cli,
    store_twice,
    unsafe_in,
    write_hubs,
)
from sqlalchemy import create_engine, select

from jupyterhub_onboarding.collector.app import PollSettings
from jupyterhub_onboarding.collector.rows import COLUMNS
from jupyterhub_onboarding.collector.store import (
    collect_hub_rows,
)
from jupyterhub_onboarding.core.clock import utcnow

pytestmark = pytest.mark.integration


FORMATS = ("table", "json", "csv", "html")


async def test_cli_writes_a_row_per_hub_and_exits_1_within_the_budget(tmp_path, stand_in):
    hubs_file, env = mixed_hubs(tmp_path, stand_in, with_hang=True)
    timeout, retries, backoff = 1.0, 1, 0.25
    budget = PollSettings(timeout=timeout, retries=retries, backoff=backoff).worst_case_seconds()
    run = await run_cli(
        "--hubs", str(hubs_file), "--format", "csv", "--output", "report.csv",
        "--timeout", str(timeout), "--retries", str(retries), "--backoff", str(backoff),
        "--log-level", "INFO",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert run.stdout == ""
    rows = csv_rows((tmp_path / "report.csv").read_text())
    assert set(rows) == {"alpha", "beta", "e500", "e401", "garbage", "down", "hang"}
    alpha, beta = rows["alpha"], rows["beta"]
    expected = good_status()
    assert alpha["error"] == "" and alpha["reachable"] == "true"
    assert alpha["first_value_achieved"] == "true"
    assert alpha["first_value_date"] == expected["first_value"]["achieved_at"][:10]
    assert (alpha["mau_login"], alpha["mau_server"], alpha["active_30d"]) == ("15", "9", "20")
    assert float(alpha["estimated_usage_fee"]) == expected["billing"]["estimated_usage_fee"]
    assert alpha["url"] == stand_in.hub_url("ok", "alpha")
    assert beta["check_in_due"] == "true" and beta["first_value_achieved"] == "false"
    assert beta["url"] == stand_in.hub_url("ok", "beta")
    assert rows["e500"]["error"] == "HTTP 500 (2 attempts)"
    assert rows["e401"]["error"].startswith("HTTP 401: token refused")
    assert rows["garbage"]["error"] == "malformed JSON"
    assert rows["down"]["error"] == "connection refused (2 attempts)"
    assert rows["down"]["reachable"] == "false"
    assert rows["hang"]["error"] == "timed out after 1 s"
    order = list(csv.DictReader(io.StringIO((tmp_path / "report.csv").read_text())))
    assert [r["hub"] for r in order][-2:] == ["beta", "alpha"]  # action needed comes first

    # The process's own measure of the polling, and the whole run from outside.
    (summary,) = SUMMARY.findall(run.stderr)
    assert summary[:3] == ("7", "2", "5")
    assert timeout <= float(summary[4]) <= budget + 0.5  # the hang cost one timeout
    assert run.elapsed <= budget + 15, "process start-up and report far beyond the budget"
    # Not a terminal: no progress bar; failures are logged one per line.
    assert "\r" not in run.stderr and "hubs:" not in run.stderr
    assert "hub 'hang': timed out" in run.stderr
    assert "Traceback" not in run.stderr


async def test_cli_formats_agree_and_never_show_a_token(tmp_path, stand_in):
    hubs_file, env = mixed_hubs(tmp_path, stand_in, with_hang=False)
    secrets_ = [*env.values(), stand_in.tokens["beta"]]
    common = ("--hubs", str(hubs_file), "--timeout", "2", "--retries", "1", "--backoff", "0")
    outputs = {}
    for fmt in ("table", "json", "csv", "html"):
        run = await run_cli(*common, "--format", fmt, "--debug", cwd=tmp_path, env=env)
        assert run.returncode == 1, run.stderr
        for token in secrets_:
            assert token not in run.stdout, fmt
            assert token not in run.stderr, fmt
        outputs[fmt] = run.stdout
    # The hub echoing its Authorization header in a 500 page (asked twice per run, with the
    # retry) does not leak it either.
    assert stand_in.requests["error500"] == 2 * len(outputs)
    assert "HTTP 500 (2 attempts)" in outputs["table"]

    document = json.loads(outputs["json"])
    by_csv = csv_rows(outputs["csv"])
    assert [hub["hub"] for hub in document["hubs"]] == list(by_csv)
    for hub in document["hubs"]:
        record = by_csv[hub["hub"]]
        for column in ("mau_login", "mau_server", "active_30d"):
            assert (str(hub[column]) if hub[column] is not None else "") == record[column]
        fee = hub["estimated_usage_fee"]
        assert (
            float(record["estimated_usage_fee"]) if record["estimated_usage_fee"] else None
        ) == fee
        assert (hub["error"] or "") == record["error"]
    assert document["totals"]["failed"] == 4 and document["totals"]["hubs"] == 6
    assert document["totals"]["mau_login"] == 15 + 2
    assert "alpha" in outputs["table"] and "TOTAL (6 hubs)" in outputs["table"]
    assert outputs["html"].startswith("<!DOCTYPE html>")


async def test_cli_redacts_a_token_the_hub_echoes_back_in_every_format(tmp_path, stand_in):
    stand_in.documents["echo"] = good_status()
    token = new_token()
    hubs_file = write_hubs(
        tmp_path / "hubs.yaml",
        [{"name": "echo", "hub_url": stand_in.hub_url("echo", "echo"), "token_env": "T_ECHO"}],
    )
    secret = token.removeprefix("tok-")
    # The table shortens the version: no 8 characters of the secret may show either.
    pieces = [secret[i : i + 8] for i in range(len(secret) - 7)]
    outputs, leaks = {}, {}
    for fmt in FORMATS:
        run = await run_cli(
            "--hubs", str(hubs_file), "--format", fmt, "--retries", "0", "--debug",
            cwd=tmp_path, env={"T_ECHO": token},
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        leaks[fmt] = [piece for piece in pieces if piece in run.stdout + run.stderr]
        outputs[fmt] = run.stdout
    assert stand_in.requests["echo"] == len(FORMATS)
    shown = {
        "json": json.loads(outputs["json"])["hubs"][0]["service_version"],
        "csv": csv_rows(outputs["csv"])["echo"]["service_version"],
        "html": re.findall(r"<td>(token [^<]*)</td>", outputs["html"]),
        # the hub's row: after the title, the events of the next 14 days and the headings
        "table": outputs["table"].splitlines()[6].split("  ")[-1].strip(),  # shortened
    }
    assert {fmt: (shown[fmt], leaks[fmt]) for fmt in FORMATS} == {
        "table": ("token [toke\u2026", []),
        "json": ("token [token]", []),
        "csv": ("token [token]", []),
        "html": (["token [token]"], []),
    }


async def test_cli_keeps_control_and_bidi_characters_out_of_every_format(tmp_path, stand_in):
    document = good_status()
    document["version"] = "\u00a0=1+1\x1b]0;owned\x07\u202e\ud800"
    document["billing"]["currency"] = "\x1b[31m"
    stand_in.documents["evil"] = document
    stand_in.tokens["evil"] = new_token()
    hubs_file = write_hubs(
        tmp_path / "hubs.yaml",
        [
            {
                "name": "evil\u202egnp.exe\u2066\x1b[5m",
                "hub_url": stand_in.hub_url("ok", "evil"),
                "token_env": "T_EVIL",
            },
            {
                "name": '=HYPERLINK("x")\u2067\x1b[0m',
                "hub_url": stand_in.hub_url("error500"),
                "token_env": "T_EVIL",
            },
        ],
    )
    env = {"T_EVIL": stand_in.tokens["evil"]}
    outputs = {}
    for fmt in FORMATS:
        run = await run_cli(
            "--hubs", str(hubs_file), "--format", fmt, "--retries", "0", "--log-level", "INFO",
            cwd=tmp_path, env=env,
        )  # fmt: skip
        assert run.returncode == 1, run.stderr
        assert "Traceback" not in run.stderr
        assert unsafe_in(run.stdout) == [], fmt
        assert unsafe_in(run.stderr) == [], fmt
        outputs[fmt] = run.stdout
    mark = "\ufffd"
    rows = {hub["hub"]: hub for hub in json.loads(outputs["json"])["hubs"]}
    evil = rows[f"evil{mark}gnp.exe{mark}{mark}[5m"]
    assert evil["currency"] == f"{mark}[31m"
    assert evil["service_version"] == f"\u00a0=1+1{mark}]0;owned{mark}{mark}{mark}"
    by_csv = csv_rows(outputs["csv"])
    assert by_csv[f'\'=HYPERLINK("x"){mark}{mark}[0m']["error"] == "HTTP 500"
    record = by_csv[f"evil{mark}gnp.exe{mark}{mark}[5m"]
    assert record["currency"] == f"{mark}[31m"
    assert record["service_version"] == "'" + evil["service_version"]  # a formula after a space
    # the totals line: the fee in the hub's (made safe) currency, then the stale count
    assert re.search(rf"125\.00 {mark}\[31m +0$", outputs["table"].splitlines()[-1])
    assert f"{mark}[31m" in outputs["html"]


async def test_cli_exits_0_when_every_hub_answered_and_reports_a_past_month(tmp_path, stand_in):
    now = utcnow()
    for name in ("alpha", "omega"):
        stand_in.tokens[name] = new_token()
        stand_in.documents[name] = good_status(now)
    stand_in.documents["omega"] = good_status(now, billing_basis="server")
    hubs_file = write_hubs(
        tmp_path / "hubs.yaml",
        [
            {"name": name, "hub_url": stand_in.hub_url("ok", name), "token_env": f"T_{name}"}
            for name in ("alpha", "omega")
        ],
    )
    env = {f"T_{name}": stand_in.tokens[name] for name in ("alpha", "omega")}
    last_month = months_back(now, 1)
    run = await run_cli(
        "--hubs", str(hubs_file), "--format", "json", "--month", last_month,
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    document = json.loads(run.stdout)
    assert document["month"] == last_month
    alpha, omega = document["hubs"]
    assert (alpha["mau_login"], alpha["mau_server"]) == (280, 120)
    assert alpha["estimated_usage_fee"] == 1000.0  # login basis: 280 MAU
    assert omega["estimated_usage_fee"] == 600.0  # server basis: 120 MAU
    assert document["totals"]["estimated_usage_fee"] == {"USD": 1600.0}


async def test_cli_lists_the_events_ahead_first_and_the_next_event_of_each_hub(tmp_path, stand_in):
    now = utcnow().replace(microsecond=0)
    exam = make_event(now, days_ahead=2, checklist=("resources",), title="<b>Exam</b>\x1b[2J")
    stand_in.documents.update(
        exams=good_status(
            now,
            events=[
                make_event(now, days_ahead=40, title="Summer school", kind="workshop", event_id=2),
                exam,
            ],
        ),
        later=good_status(
            now, events=[make_event(now, days_ahead=30, title="Open day", kind="demo")]
        ),
        old=good_status(now),  # a hub whose service predates events
    )
    names = ("exams", "later", "old")
    stand_in.tokens.update({name: new_token() for name in names})
    hubs_file = write_hubs(
        tmp_path / "hubs.yaml",
        [
            {"name": name, "hub_url": stand_in.hub_url("ok", name), "token_env": f"T_{name}"}
            for name in names
        ],
    )
    env = {f"T_{name}": stand_in.tokens[name] for name in names}
    outputs = {}
    for fmt in ("table", "json", "csv", "html"):
        run = await run_cli(
            "--hubs", str(hubs_file), "--format", fmt, "--store", str(tmp_path / "h.sqlite"),
            cwd=tmp_path, env=env,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert "\x1b" not in run.stdout
        outputs[fmt] = run.stdout
    start = exam.start.strftime("%Y-%m-%dT%H:%M:%SZ")

    document = json.loads(outputs["json"])
    (event,) = document["events"]  # the events 30 and 40 days ahead are not in the next 14
    assert (event["hub"], event["kind"], event["start"]) == ("exams", "exam", start)
    assert event["title"] == "<b>Exam</b>\ufffd[2J"
    assert (event["expected_attendees"], event["days_until"]) == (120, 2.0)
    assert (event["checklist_done"], event["checklist_total"]) == (1, 4)
    hubs = {hub["hub"]: hub for hub in document["hubs"]}
    assert all(hub["error"] is None for hub in hubs.values())
    assert hubs["exams"]["next_event_start"] == start
    assert hubs["later"]["next_event_title"] == "Open day"
    assert hubs["later"]["next_event_days_until"] == 30.0
    assert all(hubs["old"][column] is None for column in COLUMNS if "next_event" in column)

    lines = outputs["table"].splitlines()
    assert lines[2] == "Events in the next 14 days:"
    assert lines[5].split()[:2] == ["exams", "<b>Exam</b>\ufffd[2J"]
    assert "1/4 (not ready)" in lines[5]
    assert lines[7].startswith("hub ") and "next event" in lines[7]

    records = csv_rows(outputs["csv"])
    assert set(records) == set(names)
    assert records["exams"]["next_event_start"] == start
    assert records["exams"]["next_event_checklist_done"] == "1"
    assert records["old"]["next_event_title"] == ""

    page = outputs["html"]
    section = page[page.index('id="events"') : page.index('id="hubs"')]
    assert "&lt;b&gt;Exam&lt;/b&gt;" in section and "<b>Exam" not in page
    assert "Open day" not in section and "Open day" in page

    # the history keeps the next event of each run's rows
    engine = create_engine(f"sqlite:///{tmp_path / 'h.sqlite'}")
    try:
        with engine.connect() as connection:
            stored = connection.execute(
                select(collect_hub_rows.c.hub, collect_hub_rows.c.next_event_start)
            ).all()
    finally:
        engine.dispose()
    assert len(stored) == 4 * len(names)
    assert {tuple(row) for row in stored} == {
        ("exams", start),
        ("later", hubs["later"]["next_event_start"]),
        ("old", None),
    }


@pytest.mark.parametrize(
    ("args", "hubs_text", "expected"),
    [
        ((), None, "--hubs is required"),
        (("--month", "2026-13"), "", "CollectApp.month must look like YYYY-MM"),
        (("--month", "2999-01"), "", "is in the future"),
        (("--timeout", "0"), "", "CollectApp.timeout must be a number of seconds > 0"),
        (("--format", "docx"), "", "report_format"),
        (("--retires", "3"), "", "unknown option(s): --retires"),
        (("--output", "no/such/dir/r.csv"), "", "directory of --output"),
        (
            (),
            f"- name: leaky\n  hub_url: https://a.example.org\n  token: {SECRET}\n",
            "hub 'leaky': an inline 'token' is refused",
        ),
        ((), "- name: [unclosed\n", "not valid YAML"),
        (("--store", "mysql://db/x"), "", "unsupported database"),
    ],
)
async def test_cli_usage_and_config_errors_exit_2(tmp_path, args, hubs_text, expected):
    argv = list(args)
    if hubs_text is not None:
        hubs_file = tmp_path / "hubs.yaml"
        hubs_file.write_text(
            hubs_text or "- {name: a, hub_url: 'http://127.0.0.1:9', token_env: T}\n"
        )
        argv += ["--hubs", str(hubs_file)]
    run = await run_cli(*argv, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert expected in run.stderr
    assert SECRET not in run.stderr and "Traceback" not in run.stderr
    assert run.stdout == ""


async def test_progress_bar_shows_on_a_terminal_only(tmp_path, stand_in):
    stand_in.tokens["alpha"] = new_token()
    stand_in.documents["alpha"] = good_status()
    hubs_file = write_hubs(
        tmp_path / "hubs.yaml",
        [{"name": "alpha", "hub_url": stand_in.hub_url("ok", "alpha"), "token_env": "T"}],
    )
    env = dict(os.environ, T=stand_in.tokens["alpha"], PYTHONPATH=str(ROOT))
    controller, terminal = os.openpty()
    # A terminal 100 columns wide (a new pseudo-terminal has no size, so no room for a bar).
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "jupyterhub_onboarding", "collect", "--hubs", str(hubs_file),
            "--format", "csv",
            cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=terminal,
        )  # fmt: skip
        os.close(terminal)
        stdout, _ = await asyncio.wait_for(process.communicate(), 60)
        seen = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(controller)
    assert process.returncode == 0
    assert csv_rows(stdout.decode())["alpha"]["error"] == ""
    assert b"hubs:" in seen and b"/1 [" in seen


async def test_store_appends_each_run_to_sqlite(tmp_path, stand_in):
    report = await store_twice(tmp_path, stand_in, "runs.sqlite")  # a path: an SQLite file
    check_stored(f"sqlite:///{tmp_path / 'runs.sqlite'}", report)


async def test_store_errors_hide_the_password(tmp_path):
    hubs_file = tmp_path / "hubs.yaml"
    hubs_file.write_text("- {name: a, hub_url: 'http://127.0.0.1:9', token_env: T}\n")
    run = await run_cli(
        "--hubs", str(hubs_file), "--store",
        f"postgresql+psycopg://collector:{SECRET}@127.0.0.1:{closed_port()}/runs",
        cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 2
    assert "cannot open the store postgresql+psycopg://collector:***@127.0.0.1" in run.stderr
    assert SECRET not in run.stderr


async def test_pdf_format_needs_an_output_directory(tmp_path):
    hubs_file = write_hubs(tmp_path / "hubs.yaml", [{"name": "a", "hub_url": "http://x"}])
    run = await run_cli("--hubs", str(hubs_file), "--format", "pdf", cwd=tmp_path)
    assert run.returncode == 2 and "--format pdf needs --output-dir" in run.stderr
    run = await run_cli(
        "--hubs", str(hubs_file), "--format", "pdf", "--output-dir", "nowhere", cwd=tmp_path
    )
    assert run.returncode == 2 and "not an existing directory" in run.stderr
