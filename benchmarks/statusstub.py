"""Many hubs' onboarding status endpoints on one loopback port, for the collector benchmark.

Hub *i* answers ``GET /hub-i/services/onboarding/api/v1/status`` according to a plan file
(JSON: ``{"token": ..., "behaviours": {"i": ["fast"|"slow"|"hang"|"error", seconds]}}``):

- ``fast``: the status document at once;
- ``slow``: the document after the given seconds (below the collector's timeout);
- ``hang``: nothing for the given seconds (beyond the collector's timeout);
- ``error``: HTTP 500 (the collector retries it).

The documents are built with the product's own snapshot and status code, so they have the
real shape and size. Hubs that are dead (nothing listening) are not served here at all.

Run: ``python benchmarks/statusstub.py --plan plan.json --port 8124``; prints ``ready``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

from tornado import web

from jupyterhub_onboarding.core.clock import utcnow
from jupyterhub_onboarding.core.rules import add_months, month_label, month_of

# the status documents of the collector's tests, built by the product's own code
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from harness.collector import make_status


def document(index: int) -> dict:
    now = utcnow()
    users = 3 + (index * 37) % 900
    current = month_of(now)
    months = {
        month_label(add_months(current, -k)): (users // (k + 1), users // (k + 2))
        for k in range(min(24, 1 + index % 24))
    }
    return make_status(
        now=now,
        live_days_ago=30 + index % 400,
        logged_in=users,
        started_server=users // 2,
        months=months,
        rolling_30d=users // 2,
        polled_ago=30,
        hub_url=f"https://hub-{index}.example.org",
    )


class StatusHandler(web.RequestHandler):
    def initialize(self, plan: dict) -> None:
        self.plan = plan

    async def get(self, index: str) -> None:
        if self.request.headers.get("Authorization") != f"token {self.plan['token']}":
            raise web.HTTPError(401)
        kind, seconds = self.plan["behaviours"].get(index, ["fast", 0])
        if kind in ("slow", "hang"):
            await asyncio.sleep(seconds)
        if kind == "error":
            raise web.HTTPError(500)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(document(int(index)), indent=1, sort_keys=True))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--plan", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    plan = json.loads(Path(args.plan).read_text())
    logging.getLogger("tornado.access").disabled = True  # the 500s are on purpose
    app = web.Application(
        [(r"/hub-(\d+)/services/onboarding/api/v1/status", StatusHandler, {"plan": plan})]
    )
    app.listen(args.port, "127.0.0.1")
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
