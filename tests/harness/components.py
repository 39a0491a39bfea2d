"""Real components a test needs: skip with a printed reason when one is missing; in CI (the
``CI`` environment variable set), fail instead, since CI must run every test."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def require_component(name: str, found: bool, how: str) -> None:
    """Skip with a printed reason when a real component is missing; in CI, fail instead."""
    if found:
        return
    message = f"{name} is not installed ({how})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must run every test (make test installs it)")
    print(f"SKIP: {message}")
    pytest.skip(message)


def require_binary(binary: str, package: str) -> str:
    """The path of *binary* (a name on PATH or a path), or a skip naming its Debian package."""
    path = shutil.which(binary) or (binary if Path(binary).exists() else None)
    require_component(binary, path is not None, f"Debian package {package}")
    return str(path)
