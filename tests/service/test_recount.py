"""``python -m jupyterhub_onboarding recount --month``: reads the config file and the database
only, prints and logs the old and new figures, keeps both with who and when (#21)."""

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from jupyterhub_onboarding.core.hubmodel import ServerSeen, UserSeen
from jupyterhub_onboarding.core.rules import CountingRules
from jupyterhub_onboarding.service.store import Store

#: The recount runs as the command it is, in a process of its own.
pytestmark = pytest.mark.integration

UTC = timezone.utc
NOV = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
CLOSES = datetime(2026, 12, 4, tzinfo=UTC)


def make_database(directory):
    store = Store(f"sqlite:///{directory / 'billing.sqlite'}")
    store.upgrade()
    for i in range(12):
        when = NOV + timedelta(days=i)
        servers = (ServerSeen("", True, when, when),) if i < 3 else ()
        store.record([UserSeen(f"person{i:02d}", False, when, servers)], when, CountingRules())
    store.close_months(CLOSES, 3, "login", ((10, 10.0), (100, 5.0), (None, 2.5)))
    return store


def recount(directory, *args):
    return subprocess.run(
        [sys.executable, "-m", "jupyterhub_onboarding", "recount", *args],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(directory)},
    )


def test_recount_applies_todays_exclusions_and_keeps_the_old_figures(tmp_path):
    store = make_database(tmp_path)
    (tmp_path / "jupyterhub_onboarding_config.py").write_text(
        "c.Onboarding.db_url = 'sqlite:///billing.sqlite'\n"
        "c.Onboarding.excluded_users = ['person00', 'person07']\n"
        "c.Onboarding.fee_tiers = [[10, 1.0], [None, 0.5]]\n"
    )
    done = recount(tmp_path, "--month", "2026-11", "--by", "ana (ticket 4711)")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("2026-11 old: MAU login 12, server 3; fee 110.00 on the login")
    assert lines[1].startswith("2026-11 new: MAU login 10, server 2; fee 10.00 on the login")
    assert "ana (ticket 4711)" in lines[1]
    assert "Recounted 2026-11 old: MAU login 12" in done.stderr
    assert "Recounted 2026-11 new: MAU login 10" in done.stderr
    assert "person0" not in done.stdout + done.stderr
    first, second = store.billing.versions(202611)
    assert (first.login, first.fee, first.closed_by, first.closed_at) == (
        12,
        110.0,
        "service",
        CLOSES,
    )
    assert (second.login, second.server, second.fee, second.closed_by) == (
        10,
        2,
        10.0,
        "ana (ticket 4711)",
    )
    assert second.closed_at > CLOSES
    assert store.aggregates(CLOSES, 5).months[0].login == 10  # what the service shows next
    store.close()


def test_recount_refuses_a_month_that_is_not_closed_and_a_malformed_month(tmp_path):
    store = make_database(tmp_path)
    (tmp_path / "jupyterhub_onboarding_config.py").write_text(
        "c.Onboarding.db_url = 'sqlite:///billing.sqlite'\n"
    )
    open_month = recount(tmp_path, "--month", "2026-12")
    assert open_month.returncode == 1
    assert "2026-12 is not closed" in open_month.stderr
    malformed = recount(tmp_path, "--month", "November")
    assert malformed.returncode != 0
    assert "RecountApp.month" in malformed.stderr and "YYYY-MM" in malformed.stderr
    missing = recount(tmp_path)
    assert missing.returncode == 2 and "--month YYYY-MM" in missing.stderr
    assert [v.revision for v in store.billing.versions(202611)] == [1]
    store.close()
