"""Benchmark 4: the central collector polling 500 hubs at concurrency 50.

500 hub status endpoints are simulated on loopback by statusstub.py (one port, one path per
hub) plus ports where nothing listens. The mix: 440 answer at once, 30 answer slowly (1 to 4
seconds, below the timeout), 10 hang past the timeout, 10 are dead (connection refused), 10
answer HTTP 500. The real command runs against it, as an account manager would run it:

    python -m jupyterhub_onboarding collect --hubs hubs.yaml --concurrency 50 --timeout 5
        --format json --output report.json --no-progress

once with the default retries (2) and once with --retries 0; and once more with all 500
answering at once, to show the fan-out cost on its own. Target: total time under 10 s
plus one timeout. With retries a hanging hub costs timeout * (retries + 1) plus the backoff
waits (docs/collector.md), so the run is compared with 10 s plus that per-hub budget too.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ROOT, Timer, log, print_table, write_result
from harness.process import free_port

HERE = Path(__file__).resolve().parent
HUBS = 500
CONCURRENCY = 50
TIMEOUT = 5.0
BACKOFF = 0.5
BASE_SECONDS = 10.0


def plan_hubs() -> dict[int, tuple[str, float]]:
    behaviours: dict[int, tuple[str, float]] = {}
    for i in range(HUBS):
        slot = i % 50  # spread each kind over the list, not in one block
        if slot in (7, 19, 33):
            behaviours[i] = ("slow", 1.0 + (i % 4))
        elif slot == 11:
            behaviours[i] = ("hang", 60.0)
        elif slot == 23:
            behaviours[i] = ("dead", 0.0)
        elif slot == 41:
            behaviours[i] = ("error", 0.0)
        else:
            behaviours[i] = ("fast", 0.0)
    return behaviours


def write_hubs_file(
    path: Path, port: int, behaviours: dict[int, tuple[str, float]], offset: int = 0
) -> None:
    """The hubs file; with *offset*, hub i is served as stand-in hub i + offset (which, past
    the plan's indexes, answers at once)."""
    dead_ports = {i: free_port() for i, (kind, _) in behaviours.items() if kind == "dead"}
    lines = ["hubs:"]
    for i in range(HUBS):
        url = (
            f"http://127.0.0.1:{dead_ports[i]}/hub-{i}"
            if i in dead_ports
            else f"http://127.0.0.1:{port}/hub-{i + offset}"
        )
        lines += [
            f"  - name: bench-hub-{i:03d}",
            f"    hub_url: {url}",
            "    token_env: BENCH_TOKEN",
        ]
    path.write_text("\n".join(lines) + "\n")


def collect(hubs_file: Path, output: Path, token: str, retries: int) -> dict[str, Any]:
    env = dict(os.environ, BENCH_TOKEN=token)
    command = [
        sys.executable,
        "-m",
        "jupyterhub_onboarding",
        "collect",
        "--hubs",
        str(hubs_file),
        "--concurrency",
        str(CONCURRENCY),
        "--timeout",
        str(TIMEOUT),
        "--retries",
        str(retries),
        "--backoff",
        str(BACKOFF),
        "--format",
        "json",
        "--output",
        str(output),
        "--no-progress",
    ]
    with Timer() as timer:
        done = subprocess.run(
            command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600
        )
    if done.returncode not in (0, 1):
        raise RuntimeError(f"collect exited {done.returncode}: {done.stderr[-2000:]}")
    report = json.loads(output.read_text())
    return {"seconds": timer.seconds, "exit_status": done.returncode, "report": report}


def summarise(report: Any) -> dict[str, int]:
    rows = report["hubs"] if isinstance(report, dict) and "hubs" in report else report
    if isinstance(rows, dict):
        rows = rows.get("rows", [])
    errors = sum(1 for r in rows if r.get("error"))
    return {"rows": len(rows), "with_error": errors, "answered": len(rows) - errors}


def run(quick: bool) -> dict[str, Any]:
    started = time.perf_counter()
    behaviours = plan_hubs()
    kinds: dict[str, int] = {}
    for kind, _ in behaviours.values():
        kinds[kind] = kinds.get(kind, 0) + 1
    token = secrets.token_hex(16)
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-collector-") as tmp:
        scratch = Path(tmp)
        plan = {
            "token": token,
            "behaviours": {
                str(i): list(b) for i, b in behaviours.items() if b[0] not in ("fast", "dead")
            },
        }
        (scratch / "plan.json").write_text(json.dumps(plan))
        port = free_port()
        stub = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "statusstub.py"),
                "--plan",
                str(scratch / "plan.json"),
                "--port",
                str(port),
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        try:
            assert stub.stdout is not None
            if stub.stdout.readline().strip() != "ready":
                raise RuntimeError("status stand-in did not start")
            mixed_file, live_file = scratch / "hubs.yaml", scratch / "hubs-live.yaml"
            write_hubs_file(mixed_file, port, behaviours)
            all_fast = {i: ("fast", 0.0) for i in range(HUBS)}
            write_hubs_file(live_file, port, all_fast, offset=HUBS)
            for mix, hubs_file, retries in (
                ("mixed", mixed_file, 2),
                ("mixed", mixed_file, 0),
                ("all answer", live_file, 2),
            ):
                log(f"  collect: {HUBS} hubs ({mix}), concurrency {CONCURRENCY}, retries {retries}")
                found = collect(hubs_file, scratch / f"report-{mix}-{retries}.json", token, retries)
                budget = TIMEOUT * (retries + 1) + sum(BACKOFF * 2**k for k in range(retries))
                runs.append(
                    {
                        "hubs": mix,
                        "retries": retries,
                        "seconds": found["seconds"],
                        "exit_status": found["exit_status"],
                        **summarise(found["report"]),
                        "target_seconds_10_plus_one_timeout": BASE_SECONDS + TIMEOUT,
                        "per_hub_worst_case_seconds": budget,
                        "target_seconds_10_plus_worst_case": BASE_SECONDS + budget,
                    }
                )
        finally:
            stub.terminate()
            stub.wait(timeout=30)
    table = print_table(
        f"Collector: {HUBS} hubs ({', '.join(f'{v} {k}' for k, v in sorted(kinds.items()))}), "
        f"concurrency {CONCURRENCY}, timeout {TIMEOUT:g}s",
        [
            "hubs",
            "retries",
            "total s",
            "answered",
            "errors",
            "10s+1 timeout",
            "met",
            "per-hub worst",
            "10s+worst",
            "met",
        ],
        [
            (
                r["hubs"],
                r["retries"],
                r["seconds"],
                r["answered"],
                r["with_error"],
                r["target_seconds_10_plus_one_timeout"],
                r["seconds"] < r["target_seconds_10_plus_one_timeout"],
                r["per_hub_worst_case_seconds"],
                r["target_seconds_10_plus_worst_case"],
                r["seconds"] < r["target_seconds_10_plus_worst_case"],
            )
            for r in runs
        ],
    )
    result = {
        "targets": {"total_seconds": f"< {BASE_SECONDS:g} + one timeout ({TIMEOUT:g} s)"},
        "quick": quick,
        "hubs": HUBS,
        "mix": kinds,
        "concurrency": CONCURRENCY,
        "timeout_seconds": TIMEOUT,
        "runs": runs,
        "table": table,
        "seconds": time.perf_counter() - started,
    }
    write_result("collector", result)
    return result


CACHE: Path | None = None
