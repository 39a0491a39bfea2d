"""Write the databases of release 0.1 that the upgrade tests read (see README.md here).

Runs only against a checkout of release 0.1 (its flat module layout):
``PYTHONPATH=. python tests/data/make_release_0_1.py tests/data tests/data/status-0.1.json``
"""

import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from jupyterhub_onboarding.collectstore import RunStore
from jupyterhub_onboarding.hubmodel import ServerSeen, UserSeen
from jupyterhub_onboarding.report import build_row
from jupyterhub_onboarding.rules import CountingRules
from jupyterhub_onboarding.store import Store

out, status_file = Path(sys.argv[1]), Path(sys.argv[2])
rules = CountingRules(excluded_users=frozenset({"staff"}), count_admins=True)


def seen(name, when, server=False, admin=False):
    servers = (ServerSeen("", True, when, when),) if server else ()
    return UserSeen(name, admin, when, servers)


store = Store(f"sqlite:///{out / 'service-0.1.sqlite'}")
store.upgrade()
store.get_or_set_state("live_since", "2026-10-20T09:00:00Z")
# October: four counted users, two with a server
t0 = datetime(2026, 10, 28, 12, 0, tzinfo=timezone.utc)
october = [
    seen("ada", t0, admin=True),
    seen("bob", t0, server=True),
    seen("cy", t0 + timedelta(hours=1)),
    seen("dee", t0 + timedelta(hours=2), server=True),
    seen("staff", t0),
]
store.record(october, t0 + timedelta(hours=3), rules, full=True)
# November: seven counted users, eve with a server; first value on the 3rd
t1 = datetime(2026, 11, 3, 10, 0, tzinfo=timezone.utc)
november = [seen(name, t1) for name in ("bob", "cy", "dee", "fay", "gus", "staff")]
november += [seen("ada", t1, admin=True), seen("eve", t1, server=True)]
store.record(november, t1 + timedelta(minutes=5), rules, full=True)
# gus is deleted: a full read without him
t2 = t1 + timedelta(days=1)
left = [user for user in november if user.name != "gus"]
store.record(left, t2, rules, full=True)
store.close()

runs = RunStore(f"sqlite:///{out / 'collector-0.1.sqlite'}")
runs.create_tables()
rows = [
    build_row("alpha", "https://alpha.example.org", reachable=False, error="connection refused"),
    build_row("beta", "https://beta.example.org", json.loads(status_file.read_text())),
]
runs.append(rows, started_at=t1, finished_at=t1 + timedelta(seconds=2), month=None)
runs.close()
