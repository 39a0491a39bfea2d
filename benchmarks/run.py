"""Run the benchmarks: ``.venv/bin/python benchmarks/run.py [--quick] [--only poll,serving,...]``.

Each benchmark prints a table and writes ``benchmarks/results/<name>.json``. See README.md.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import log, machine

BENCHMARKS = {
    "poll": "bench_poll",
    "serving": "bench_serving",
    "storage": "bench_storage",
    "collector": "bench_collector",
    "usage": "bench_usage",
    "report": "bench_report",
    "service": "bench_service",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smaller populations and fewer repetitions (no 50,000-user hub); about 5 minutes",
    )
    parser.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        help=f"comma-separated subset of: {', '.join(BENCHMARKS)} (default: all, in this order)",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    print(f"machine: {machine()}\n", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as cache:
        for name in names:
            module = importlib.import_module(BENCHMARKS[name])
            module.CACHE = Path(cache)
            log(f"== {name} {'(quick)' if args.quick else ''}")
            started = time.perf_counter()
            module.run(args.quick)
            log(f"== {name} took {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
