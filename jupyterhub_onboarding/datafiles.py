"""Where this package's data files (templates) are, and the Jinja environment built on them.

Templates are found at run time from a source checkout as well as an installed wheel, as
JupyterHub finds its own; every environment autoescapes.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, Environment

from .core import format as fmt

#: A file that only this package's template directory contains.
SENTINEL = "jupyterhub-onboarding.sentinel"

#: Where the wheel installs the templates, relative to the installation prefix.
INSTALLED_DATA_DIR = Path("share", "jupyterhub-onboarding")


def _candidates(start: Path, prefixes: Iterable[Path]) -> list[Path]:
    """Data directories to try, nearest first: up from *start*, then each prefix."""
    found = []
    for directory in (start, *start.parents):
        found.append(directory / "share")  # a source checkout: share/templates
        found.append(directory / INSTALLED_DATA_DIR)  # a prefix above site-packages
    found.extend(prefix / INSTALLED_DATA_DIR for prefix in prefixes)
    return found


def find_data_files_path(start: Path | None = None, prefixes: Iterable[Path] | None = None) -> Path:
    """The directory whose ``templates/`` holds this package's templates.

    Searches up from this module (a source checkout has ``share/templates``; a wheel installed
    into a prefix has ``<prefix>/share/jupyterhub-onboarding/templates``), then
    ``sys.prefix``. A directory counts only when it holds the sentinel file, so an unrelated
    ``share/templates`` is never picked up. Raises FileNotFoundError naming every place tried.
    """
    start = (start or Path(__file__).resolve().parent).resolve()
    if prefixes is None:
        prefixes = [Path(sys.prefix)]
    tried = _candidates(start, prefixes)
    for candidate in tried:
        if (candidate / "templates" / SENTINEL).is_file():
            return candidate
    raise FileNotFoundError(
        "jupyterhub-onboarding templates not found (no templates/"
        f"{SENTINEL}) under any of: " + ", ".join(str(path) for path in tried)
    )


def template_environment(loader: BaseLoader, **options: Any) -> Environment:
    """An autoescaped Jinja environment over *loader*, with this package's whitespace rules
    and its formatting (``core.format``) as filters, so every page, report and collector
    output writes figures alike."""
    environment = Environment(
        loader=loader,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        **options,
    )
    environment.filters.update(
        b64=lambda body: base64.b64encode(body).decode("ascii"),
        count=fmt.format_count,
        days=fmt.days,
        days_away=fmt.days_away,
        decimal=fmt.decimal,
        duration=fmt.duration,
        hours=fmt.hours,
        link_target=fmt.link_target,
        long_date=fmt.long_date,
        fee=fmt.fee,
        money=fmt.format_money,
        month_abbreviation=fmt.month_abbreviation,
        month_name=fmt.month_name,
        number=fmt.number,
        size=fmt.size,
        utc=fmt.format_utc,
        yes_no=fmt.yes_no,
    )
    return environment
