"""The hub's configuration as a report shows it: JupyterHub version, authenticator, spawner.

Read from two hub API routes: ``GET /hub/api/`` (the version; open to anyone) and
``GET /hub/api/info`` (Python version, authenticator and spawner classes with their
packages' versions, and the hub's ``sys.executable``), which needs the ``read:hub`` scope.
The executable's path is left out: a path on the hub's machine tells a report nothing.

The hub's API does not tell which profiles a spawner offers (KubeSpawner's
``profile_list`` is configuration only), so the report lists the profiles seen in server
sessions instead (their ``user_options``), which the usage figures already hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .sources import clean_detail
from .usage import NONE_LABEL, OTHER

#: A dotted Python class name as ``_class_info`` writes it (``module.Class``).
_CLASS_NAME = re.compile(r"[A-Za-z_][\w.]{0,199}")
_MAX_VERSION_CHARS = 64


class InvalidHubInfo(ValueError):
    """A hub API answer about the hub does not have the expected shape; safe to log."""


@dataclass(frozen=True)
class ClassInfo:
    """A configured class (``oauthenticator.github.GitHubOAuthenticator``) and the version
    of its package (None when the hub could not tell)."""

    name: str
    version: str | None = None

    @property
    def short_name(self) -> str:
        """The class name without its module: ``GitHubOAuthenticator``."""
        return self.name.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class HubInfo:
    """What ``GET /hub/api/info`` tells, less the executable's path."""

    python: str | None
    authenticator: ClassInfo | None
    spawner: ClassInfo | None


@dataclass(frozen=True)
class HubConfiguration:
    """What a report shows of the hub's configuration.

    *info* is None when the service may not read ``/hub/api/info`` (its role lacks
    ``read:hub``) or the hub did not answer; then *info_problem* says which.
    """

    version: str | None
    info: HubInfo | None = None
    info_problem: str | None = None
    #: profiles seen in server sessions, most used first (the hub does not list them)
    profiles_seen: tuple[str, ...] = ()


def _version(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    version = clean_detail(value, _MAX_VERSION_CHARS)
    return version or None


def parse_version(body: Any) -> str:
    """The JupyterHub version from ``GET /hub/api/`` (``{"version": "6.1.1"}``)."""
    version = _version(body.get("version")) if isinstance(body, dict) else None
    if version is None:
        raise InvalidHubInfo("GET /hub/api/ answered no version")
    return version


def _class_info(value: Any, field: str) -> ClassInfo | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidHubInfo(f"{field} must be an object")
    name = value.get("class")
    if not isinstance(name, str) or not _CLASS_NAME.fullmatch(name):
        raise InvalidHubInfo(f"{field}.class must be a dotted class name")
    version = _version(value.get("version"))
    return ClassInfo(name, None if version == "unknown" else version)


def parse_info(body: Any) -> HubInfo:
    """The parts of ``GET /hub/api/info`` a report shows; InvalidHubInfo for another shape."""
    if not isinstance(body, dict):
        raise InvalidHubInfo("GET /hub/api/info answered no object")
    python = body.get("python")
    python_version = python.split()[0] if isinstance(python, str) and python.split() else None
    return HubInfo(
        python=_version(python_version),
        authenticator=_class_info(body.get("authenticator"), "authenticator"),
        spawner=_class_info(body.get("spawner"), "spawner"),
    )


def profiles_seen(labels: Iterable[str]) -> tuple[str, ...]:
    """The profile labels of the usage figures (most used first) that name a profile: not
    the ``none`` of sessions without one nor the ``other`` of the rest."""
    return tuple(label for label in labels if label not in (NONE_LABEL, OTHER))
