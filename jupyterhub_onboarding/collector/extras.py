"""The collector's own dependencies, installed with the ``collector`` extra.

A hub only needs the service, so ``pip install jupyterhub-onboarding`` leaves out what only
``jupyterhub-onboarding collect`` uses: PyYAML for the hubs file and tqdm for the progress
bar. This module imports nothing of them itself, so the command can say what is missing
before any other part of the collector is imported.
"""

from __future__ import annotations

import sys
from importlib import import_module

#: The collector's optional imports and the distribution providing each.
EXTRA_MODULES = {"tqdm": "tqdm", "yaml": "PyYAML"}


def missing_extras() -> list[str]:
    """The distributions of the ``collector`` extra that cannot be imported."""
    missing = []
    for module, distribution in EXTRA_MODULES.items():
        try:
            import_module(module)
        except ImportError:
            missing.append(distribution)
    return missing


def extras_message(missing: list[str]) -> str:
    """The one line telling how to install the ``collector`` extra."""
    return (
        "jupyterhub-onboarding collect needs the collector extra: "
        f'pip install "jupyterhub-onboarding[collector]" (missing: {", ".join(missing)})'
    )


def require_extras() -> None:
    """Exit with status 2 and one line on standard error when the extra is not installed."""
    missing = missing_extras()
    if missing:
        sys.stderr.write(extras_message(missing) + "\n")
        raise SystemExit(2)
