"""Home directory storage figures: pure functions of measured directory sizes.

The figures come in two parts: a :class:`StorageSummary` without a name in it (total,
count, median, p90 and a size distribution, for the status API, metrics, reports and the
collector) and the sizes of each directory with its owner (:class:`DirectorySize`, for the
admin views only).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .buckets import GB as GB
from .buckets import MB as MB
from .buckets import SIZE_BUCKETS as SIZE_BUCKETS
from .clock import as_utc
from .homedirs import DirectoryNaming
from .sources import SourceProblem
from .usage import distribution, percentile

#: How many of the largest directories the admin views list by default.
LARGEST_COUNT = 10


@dataclass(frozen=True)
class DirectorySize:
    """One measured directory: its name as the exporter gives it, its size, and the hub user
    whose home it is when known. Names: for admin views only."""

    directory: str
    size_bytes: int
    username: str | None = None


@dataclass(frozen=True)
class StorageSummary:
    """The figures without any name: safe for the status API, metrics and reports."""

    measured_at: datetime
    total_bytes: int
    directories: int
    median_bytes: float | None
    p90_bytes: float | None
    #: bucket key -> directories, every key of :data:`SIZE_BUCKETS` present
    distribution: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class StorageFigures:
    """One measurement: the summary and every directory, largest first."""

    summary: StorageSummary
    sizes: tuple[DirectorySize, ...] = ()
    #: series left out because their value was no size (negative, NaN, infinite)
    rejected: int = 0

    @property
    def measured_at(self) -> datetime:
        return self.summary.measured_at

    def largest(self, count: int = LARGEST_COUNT) -> tuple[DirectorySize, ...]:
        """The *count* largest directories (admin views only)."""
        return self.sizes[:count]

    def by_user(self) -> dict[str, int]:
        """Username -> bytes of their home directory, for directories with a known owner
        (admin views only). A user with several directories gets their sum."""
        sizes: dict[str, int] = {}
        for entry in self.sizes:
            if entry.username is not None:
                sizes[entry.username] = sizes.get(entry.username, 0) + entry.size_bytes
        return sizes


def usable_size(value: float) -> int | None:
    """*value* as whole bytes, or None when it is no size (negative, NaN, infinite)."""
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        return None
    return round(value)


def assign_owners(
    measured: Iterable[tuple[str, float]],
    naming: DirectoryNaming,
    usernames: Iterable[str] | None = None,
) -> tuple[list[DirectorySize], int]:
    """The measured ``(directory, bytes)`` pairs as directory sizes with their owners, and
    how many pairs were left out for a value that is no size.

    Directories the naming's pattern does not match are no one's home and left out. With
    *usernames* (the hub's users), a directory's owner is the user whose name the spawner
    turns into it, or None; without, the owner is the directory's name under the
    ``username`` scheme and unknown under the others. A directory measured twice (two
    exporters over one volume) counts once, with its largest size.
    """
    owners = naming.owners(usernames) if usernames is not None else None
    largest: dict[str, tuple[int, str | None]] = {}
    rejected = 0
    for directory, value in measured:
        key = naming.key(directory)
        if key is None:
            continue
        size = usable_size(value)
        if size is None:
            rejected += 1
            continue
        if owners is not None:
            owner = owners.get(key)
        else:
            owner = key if naming.scheme == "username" else None
        if directory not in largest or largest[directory][0] < size:
            largest[directory] = (size, owner)
    sizes = [DirectorySize(name, size, owner) for name, (size, owner) in largest.items()]
    return sizes, rejected


def storage_figures(
    sizes: Iterable[DirectorySize], measured_at: datetime, rejected: int = 0
) -> StorageFigures:
    """Total, count, median, p90 and distribution of *sizes* measured at *measured_at*."""
    ordered = tuple(sorted(sizes, key=lambda entry: (-entry.size_bytes, entry.directory)))
    values = [float(entry.size_bytes) for entry in ordered]
    summary = StorageSummary(
        measured_at=as_utc(measured_at),
        total_bytes=sum(entry.size_bytes for entry in ordered),
        directories=len(ordered),
        median_bytes=percentile(values, 50),
        p90_bytes=percentile(values, 90),
        distribution=distribution(values, SIZE_BUCKETS),
    )
    return StorageFigures(summary, ordered, rejected)


@dataclass(frozen=True)
class StorageState:
    """What the storage poller holds: the last figures read (kept, with their time, while
    the source fails), the problem of the latest read if it failed, and when it was tried.
    """

    figures: StorageFigures | None = None
    problem: SourceProblem | None = None
    checked_at: datetime | None = None

    @property
    def current(self) -> bool:
        """True when the latest read succeeded."""
        return self.figures is not None and self.problem is None
