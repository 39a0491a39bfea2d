"""A throwaway PostgreSQL cluster for tests (initdb and the server refuse to run as root)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path

from harness.process import ManagedProcess, free_port


def find_pg_bin() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PostgresServer(ManagedProcess):
    label = "PostgreSQL"

    def __init__(self, workdir: Path, bindir: Path) -> None:
        super().__init__(workdir, "postgres.log")
        self.bindir = bindir
        self.data = self.workdir / "data"
        self.port = free_port()
        self.user = "postgres"
        self._counter = 0

    def _as_owner(self, argv: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return argv
        return ["runuser", "-u", self.user, "--", *argv]

    def _chown(self) -> None:
        if os.geteuid() == 0:
            entry = pwd.getpwnam(self.user)
            for path in (self.workdir, *self.workdir.rglob("*")):
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def prepare(self) -> None:
        if self.data.exists():
            return
        self._chown()
        subprocess.run(
            self._as_owner(
                [
                    str(self.bindir / "initdb"),
                    "-D",
                    str(self.data),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )

    def command(self) -> list[str]:
        return self._as_owner(
            [
                str(self.bindir / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-h",
                "127.0.0.1",
                "-k",
                str(self.workdir),
                "-c",
                "fsync=off",
            ]
        )

    def ready(self) -> bool:
        result = subprocess.run(
            [str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
            capture_output=True,
            check=False,
        )
        return result.returncode == 0

    def terminate(self) -> None:
        """A fast shutdown: connected clients are disconnected, not waited for."""
        # signal the postmaster itself: runuser would forward a SIGTERM as a "smart"
        # shutdown, which waits for every client to leave
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():  # the postmaster is gone already
            super().terminate()
            return
        os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)

    def restart(self) -> float:
        """Stop and start again; the seconds it took."""
        self.stop()
        start = time.monotonic()
        self.start()
        return time.monotonic() - start

    def create_database(self, name: str | None = None) -> str:
        """A fresh database; returns its SQLAlchemy URL."""
        self._counter += 1
        name = name or f"onboarding_{os.getpid()}_{self._counter}"
        subprocess.run(
            [
                str(self.bindir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-c",
                f'CREATE DATABASE "{name}"',
            ],
            check=True,
            capture_output=True,
        )
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"
