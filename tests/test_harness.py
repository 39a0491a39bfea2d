"""The test harness itself: a managed process stops with everything it started, even when it
died first and left its children behind (as a hub killed mid-test leaves its proxy and
single-user servers, which run in sessions of their own)."""

from __future__ import annotations

import os
import signal
import sys
import textwrap

import psutil
import pytest
from harness.hub import running_hub
from harness.process import ManagedProcess, StartError, processes_in, wait_until

pytestmark = pytest.mark.integration

#: A parent that starts a child in a session of its own (so not in its process group),
#: reports both, and then waits.
PARENT = textwrap.dedent(
    """
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                             start_new_session=True)
    print("child", child.pid, flush=True)
    open("ready", "w").close()
    time.sleep(600)
    """
)


class Parent(ManagedProcess):
    label = "a parent process"

    def command(self) -> list[str]:
        return [sys.executable, "-c", PARENT]

    def ready(self) -> bool:
        return (self.workdir / "ready").exists()

    def child_pid(self) -> int:
        return int(self.log_path.read_text().split()[1])


def alive(pid: int) -> bool:
    return psutil.pid_exists(pid) and not gone(pid)


def gone(pid: int) -> bool:
    """Ended: no such process, or one that only waits to be reaped."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_stop_ends_the_children_of_a_process_that_died(tmp_path):
    parent = Parent(tmp_path, "parent.log").start()
    child = parent.child_pid()
    assert parent.proc is not None
    os.kill(parent.proc.pid, signal.SIGKILL)
    wait_until(lambda: parent.proc.poll() is not None, 10, "the parent to die")
    assert alive(child)  # left behind: not in the dead parent's process group
    parent.stop()
    assert gone(child)


def test_a_process_that_exits_at_start_fails_with_its_log(tmp_path):
    class Failing(Parent):
        def command(self) -> list[str]:
            return [sys.executable, "-c", "print('bad config, line 3'); raise SystemExit(2)"]

    with pytest.raises(StartError, match=r"(?s)exited with 2.*bad config, line 3"):
        Failing(tmp_path, "failing.log").start(timeout=30)


def test_a_hub_killed_mid_test_leaves_no_process_behind(tmp_path):
    with running_hub(tmp_path / "hub") as hub:
        hub.login("ada").close()
        hub.start_server("ada")
        assert hub.proc is not None
        os.kill(hub.proc.pid, signal.SIGKILL)
        wait_until(lambda: hub.proc.poll() is not None, 30, "the hub to die")
        # its proxy, service and ada's server outlive it
        assert len(processes_in(hub.workdir)) >= 2, processes_in(hub.workdir)
    # running_hub's stop() has ended them
    assert processes_in(hub.workdir) == []
