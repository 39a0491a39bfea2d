"""Whose home directory is which: directory names as the spawner makes them from usernames.

A home directory exporter (``prometheus-dirsize-exporter``) names each directory by its name
on disk. On zero-to-jupyterhub that name comes from KubeSpawner's ``subPath`` template:

- ``{username}`` (the chart's default for static storage) is the username passed through
  KubeSpawner's ``slug_scheme``: since KubeSpawner 7 (z2jh 4) the ``safe`` scheme, which
  keeps a username that is already a valid DNS label (lowercase letters, digits and single
  hyphens, starting with a letter, at most 48 characters) and otherwise strips it down and
  appends a hash; before that, and with ``slug_scheme = "escape"`` or
  ``{escaped_username}``, the ``escape`` scheme, which writes every character other than a
  lowercase letter or digit as ``-`` and its UTF-8 bytes in hex;
- ``{unescaped_username}`` is the username itself.

The safe scheme cannot be reversed (it hashes), so directories are matched to users the
other way round: each known username is turned into its directory name. The two schemes are
KubeSpawner's ``kubespawner.slugs.safe_slug`` and ``escape_slug`` (with escapism's
``escape``), written again here because the core imports no third-party package; a test
checks them against KubeSpawner's own.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass

#: How directory names are made from usernames: the name itself, or a KubeSpawner scheme.
SCHEMES = ("username", "safe", "escape")

#: The longest slug KubeSpawner makes of a username (``_slug_max_length``).
SLUG_MAX_LENGTH = 48
_HASH_LENGTH = 8
_LOWER = tuple(string.ascii_lowercase)
_ALNUM_LOWER = tuple(string.ascii_lowercase + string.digits)
_OBJECT_NAME = re.compile(r"^[a-z0-9\-]+$")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_ESCAPE_SAFE = frozenset(string.ascii_lowercase + string.digits)


def escape_slug(name: str) -> str:
    """KubeSpawner's legacy ``escape`` scheme: characters other than lowercase letters and
    digits become ``-`` followed by each UTF-8 byte in hex (unpadded, as escapism writes
    it), then the whole is lowercased."""
    parts = []
    for char in name:
        if char in _ESCAPE_SAFE:
            parts.append(char)
        else:
            parts.extend(f"-{byte:X}" for byte in char.encode("utf8"))
    return "".join(parts).lower()


def _valid_object_name(name: str) -> bool:
    return (
        0 < len(name) <= 63
        and name.startswith(_LOWER)
        and name.endswith(_ALNUM_LOWER)
        and _OBJECT_NAME.match(name) is not None
    )


def _safe_part(name: str, max_length: int) -> str:
    safe = _NON_ALNUM.sub("-", name.lower())
    safe = safe.lstrip("-")[:max_length].rstrip("-")
    if safe and not safe.startswith(_LOWER):
        safe = "x-" + safe[: max_length - 2]
    return safe or "x"


def safe_slug(name: str, max_length: int = SLUG_MAX_LENGTH) -> str:
    """KubeSpawner's ``safe`` scheme: *name* itself when it is a valid object name of at
    most *max_length* characters without ``--``; else its safe part, ``---`` and the first
    8 hex digits of its SHA-256."""
    if "--" not in name and _valid_object_name(name) and len(name) <= max_length:
        return name
    digest = hashlib.sha256(name.encode("utf8")).hexdigest()[:_HASH_LENGTH]
    return f"{_safe_part(name, max_length - (_HASH_LENGTH + 3))}---{digest}"


def directory_name(username: str, scheme: str) -> str:
    """The directory name the spawner makes of *username* under *scheme*."""
    if scheme == "safe":
        return safe_slug(username)
    if scheme == "escape":
        return escape_slug(username)
    if scheme == "username":
        return username
    raise ValueError(f"unknown home directory naming scheme {scheme!r}; one of {SCHEMES}")


@dataclass(frozen=True)
class DirectoryNaming:
    """How a directory's name relates to its owner's username.

    *pattern*, when given, must match the whole directory name and has a group named
    ``username`` holding the part made from the username (``home-(?P<username>.+)``);
    directories it does not match are no one's home and are left out. *scheme* is how that
    part is made from the username (:data:`SCHEMES`).
    """

    scheme: str = "username"
    pattern: re.Pattern[str] | None = None

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {self.scheme!r}")
        if self.pattern is not None and "username" not in self.pattern.groupindex:
            raise ValueError("the pattern needs a group named 'username', e.g. (?P<username>.+)")

    def key(self, directory: str) -> str | None:
        """The part of *directory* made from a username, or None when it is no home."""
        if self.pattern is None:
            return directory
        match = self.pattern.fullmatch(directory)
        if match is None:
            return None
        return match.group("username")

    def owners(self, usernames: Iterable[str]) -> dict[str, str]:
        """Directory key -> username, for every username in *usernames*."""
        return {directory_name(name, self.scheme): name for name in usernames}


def check_pattern(text: str) -> re.Pattern[str] | None:
    """The compiled directory pattern (None for empty), or ValueError saying what is wrong."""
    if not text:
        return None
    try:
        pattern = re.compile(text)
    except re.error as error:
        raise ValueError(f"is not a valid regular expression: {error}") from None
    if "username" not in pattern.groupindex:
        raise ValueError("needs a group named 'username', e.g. 'home-(?P<username>.+)'")
    return pattern
