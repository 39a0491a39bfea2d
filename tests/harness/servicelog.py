"""Pick the onboarding service's own lines out of the hub log (which the service shares).

The hub writes ``[I 2026-11-23 06:55:22.574 JupyterHub log:192] ...``, the proxy
``2026-11-23T06:55:22.588Z [ConfigProxy] ...`` and the service
``[I 2026-11-23 06:55:22.578 Onboarding] ...`` (its application logger) or a logger under
``jupyterhub_onboarding``. Lines without a prefix are the service's too: the hub and the
proxy format every line they write, but in the service process the loggers of tornado and of
``jupyterhub.services.auth`` have no handler, so Python writes their warnings bare. The only
exception is the proxy's multi-line error dumps, which follow a ``[ConfigProxy]`` line.
"""

from __future__ import annotations

import re
from pathlib import Path

_PYTHON_LINE = re.compile(r"^\[[DIWEC] \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ (?P<logger>[^\s\]]+)")
_PROXY_LINE = re.compile(r"^\S+ \[ConfigProxy\]")
SERVICE_LOGGERS = ("Onboarding", "jupyterhub_onboarding", "jupyterhub-onboarding")


def service_lines(log_path: Path) -> list[str]:
    """Every line of *log_path* written by the onboarding service (and its tracebacks)."""
    lines = []
    after_proxy = False
    for line in log_path.read_text(errors="replace").splitlines():
        match = _PYTHON_LINE.match(line)
        if match:
            after_proxy = False
            if match.group("logger").startswith(SERVICE_LOGGERS):
                lines.append(line)
        elif _PROXY_LINE.match(line):
            after_proxy = True
        elif not after_proxy:
            lines.append(line)
    return lines


def leaks(lines: list[str], secrets: list[str]) -> list[str]:
    """The lines that contain any of *secrets* (usernames, tokens)."""
    return [line for line in lines if any(secret and secret in line for secret in secrets)]
