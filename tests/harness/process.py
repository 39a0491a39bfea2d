"""One managed process: started with its log kept, waited for on a condition, stopped without
leaving anything behind.

A subclass says what to run (:meth:`ManagedProcess.command`), when it is ready
(:meth:`ManagedProcess.ready`) and, if need be, what to write before each start
(:meth:`ManagedProcess.prepare`) and how to ask it to stop (:meth:`ManagedProcess.terminate`)::

    class Thing(ManagedProcess):
        label = "thing"

        def command(self) -> list[str]:
            return ["/usr/bin/thing", f"--port={self.port}"]

        def ready(self) -> bool:
            return httpx.get(f"http://127.0.0.1:{self.port}/ready").status_code == 200

    with Thing(tmp_path, "thing.log") as thing:   # start() waits for ready(), stop() on exit
        ...

The process runs in a session (and process group) of its own with its output appended to
``workdir / log_name``. :meth:`~ManagedProcess.start` fails with the log's tail when the
process exits or is not ready within the timeout. :meth:`~ManagedProcess.stop` sends SIGTERM
(or what :meth:`~ManagedProcess.terminate` sends), then SIGKILL to the whole process group, and
then ends every process the managed one started that is still there: the descendants seen
while it ran and every orphaned process whose working directory lies in ``workdir``. The
latter find what a hub that died mid-test leaves behind (its proxy and single-user servers
run in sessions of their own and are re-parented when the hub dies).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil

#: Every managed process started in this test session, in order (the root conftest shows the
#: log tails of those a failing test used, and stops any still running at the end).
STARTED: list[ManagedProcess] = []
_Process = TypeVar("_Process", bound="ManagedProcess")


def free_port() -> int:
    """A loopback port free when asked (another process may take it before it is used)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StopWaiting(Exception):
    """Raised by a wait's condition: the wait cannot succeed any more, so it ends at once."""


class ProcessExited(StopWaiting, RuntimeError):
    """The process being waited for is gone: stop waiting at once."""


class StartError(RuntimeError):
    """A managed process did not become ready; the message holds its log tail."""


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval=0.1) -> Any:
    """Poll *predicate* until it returns something truthy; fail loudly after *timeout*.

    Errors raised by *predicate* mean "not yet", except :class:`StopWaiting` (a process
    exited, a served document is invalid), which ends the wait.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except StopWaiting:
            raise
        except Exception as error:  # the condition may not be checkable yet
            last_error = error
        else:
            if value:
                return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what} (last error: {last_error})")


def processes_in(directory: Path) -> list[psutil.Process]:
    """Processes whose working directory is *directory* or lies inside it."""
    directory = Path(directory).resolve()
    found = []
    for process in psutil.process_iter():
        try:
            cwd = Path(process.cwd())
        except (psutil.Error, OSError):
            continue
        if cwd == directory or directory in cwd.parents:
            found.append(process)
    return found


def orphans_in(directory: Path) -> list[psutil.Process]:
    """Processes in *directory* (see :func:`processes_in`) that this process did not start,
    directly or not: what a managed process that died left behind, never what another
    managed process, still running, has started there."""
    own = os.getpid()
    found = []
    for process in processes_in(directory):
        try:
            if own not in (parent.pid for parent in process.parents()):
                found.append(process)
        except psutil.Error:
            continue
    return found


def end_processes(processes: list[psutil.Process], timeout: float = 10) -> None:
    """SIGTERM each of *processes*, then SIGKILL those still there after *timeout*."""
    own = os.getpid()
    processes = [p for p in processes if p.pid != own]
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    _gone, alive = psutil.wait_procs(processes, timeout=timeout)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(alive, timeout=timeout)


class ManagedProcess:
    """A child process with a kept log, a readiness condition and a clean stop."""

    #: What the process is called in messages.
    label = "process"

    def __init__(self, workdir: Path, log_name: str) -> None:
        self.workdir = Path(workdir)
        self.log_path = self.workdir / log_name
        self.proc: subprocess.Popen[bytes] | None = None
        #: Descendants seen while the process ran (the last stop ends those still there).
        self._descendants: dict[int, psutil.Process] = {}

    # -- what a subclass says ------------------------------------------------------------

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        """True once the process serves (called until true or the timeout)."""
        raise NotImplementedError

    def prepare(self) -> None:
        """Write what the process reads at start (called before every start)."""

    def environment(self) -> dict[str, str] | None:
        """The process's environment (None: this process's own)."""
        return None

    def terminate(self) -> None:
        """Ask the process to stop (SIGTERM by default)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)

    # -- life cycle ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self: _Process, timeout: float = 60) -> _Process:
        """Start, then wait until :meth:`ready`; on failure stop and raise with the log tail."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.prepare()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.environment(),
                start_new_session=True,
            )
        STARTED.append(self)
        try:
            wait_until(self._ready_or_exited, timeout, f"{self.label} to be ready")
        except (TimeoutError, ProcessExited) as error:
            self.stop()
            raise StartError(
                f"{self.label} did not start ({error}); log tail:\n{self.log_tail()}"
            ) from None
        self.remember_descendants()
        return self

    def _ready_or_exited(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise ProcessExited(f"{self.label} exited with {self.proc.returncode}")
        return self.ready()

    def remember_descendants(self) -> None:
        """Note the processes the managed one has started so far (stop ends them)."""
        if not self.running:
            return
        assert self.proc is not None
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            return
        for child in children:
            self._descendants.setdefault(child.pid, child)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM, then SIGKILL of the process group; then end whatever it left behind."""
        if self.proc is None:
            return
        self.remember_descendants()
        if self.proc.poll() is None:
            self.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None
        leftovers = {p.pid: p for p in orphans_in(self.workdir)}
        for pid, process in self._descendants.items():
            if process.is_running():  # the same process, not a new one with its pid
                leftovers.setdefault(pid, process)
        self._descendants.clear()
        end_processes(list(leftovers.values()))

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self: _Process) -> _Process:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class HttpProcess(ManagedProcess):
    """A managed process serving HTTP on a free loopback port; ready when *ready_path*
    answers 200. ``client`` is an ``httpx.Client`` on its URL."""

    ready_path = "/"

    def __init__(self, workdir: Path, log_name: str) -> None:
        super().__init__(workdir, log_name)
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.address}"
        self.client = httpx.Client(base_url=self.url, timeout=10)

    def start(self: _Process, timeout: float = 60) -> _Process:
        """Start (or start again after :meth:`stop`, on the same port)."""
        if self.client.is_closed:
            self.client = httpx.Client(base_url=self.url, timeout=10)
        return super().start(timeout)

    def ready(self) -> bool:
        try:
            return self.client.get(self.ready_path).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self, timeout: float = 20) -> None:
        super().stop(timeout)
        self.client.close()
