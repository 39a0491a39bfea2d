"""How long polls of the hub take and how often they fail, kept in memory for the metrics.

The tracker calls :meth:`PollStats.observe` once after every poll, successful or not. The
metrics collector reads the fields; nothing here does I/O or reads a clock of its own.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from datetime import datetime

from .clock import as_utc

#: Upper bounds (seconds) of the poll-duration histogram. An incremental poll reads one page
#: (about 0.05 s); a full scan of 10,000 users takes a few seconds.
DEFAULT_POLL_BUCKETS: tuple[float, ...] = (
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
)


@dataclass
class PollStats:
    """Counts of polls since the service started: a histogram of durations and the errors.

    ``bucket_counts[i]`` counts polls that took at most ``buckets[i]`` seconds and more than
    ``buckets[i - 1]`` (not cumulative); the final extra entry counts polls slower than the
    last bound. :meth:`cumulative_buckets` gives the Prometheus form.
    """

    buckets: tuple[float, ...] = DEFAULT_POLL_BUCKETS
    bucket_counts: list[int] = field(default_factory=list)
    duration_sum: float = 0.0
    count: int = 0
    errors_total: int = 0
    last_success_at: datetime | None = None
    last_error_at: datetime | None = None

    def __post_init__(self) -> None:
        bounds = tuple(float(bound) for bound in self.buckets)
        if not bounds:
            raise ValueError("at least one histogram bucket is needed")
        if any(not math.isfinite(bound) or bound <= 0 for bound in bounds):
            raise ValueError(f"bucket bounds must be finite and > 0, got {bounds!r}")
        if list(bounds) != sorted(set(bounds)):
            raise ValueError(f"bucket bounds must be strictly ascending, got {bounds!r}")
        self.buckets = bounds
        if not self.bucket_counts:
            self.bucket_counts = [0] * (len(bounds) + 1)
        elif len(self.bucket_counts) != len(bounds) + 1:
            raise ValueError("bucket_counts needs one entry per bound plus one for +Inf")

    def observe(self, duration_seconds: float, ok: bool, now: datetime) -> None:
        """Record one poll that took *duration_seconds* and ended at *now*.

        Every poll lands in the duration histogram; a failed one also counts as an error.
        """
        duration = max(0.0, float(duration_seconds))
        self.bucket_counts[bisect.bisect_left(self.buckets, duration)] += 1
        self.duration_sum += duration
        self.count += 1
        if ok:
            self.last_success_at = as_utc(now)
        else:
            self.errors_total += 1
            self.last_error_at = as_utc(now)

    def cumulative_buckets(self) -> list[tuple[str, int]]:
        """``(le, count)`` pairs as Prometheus expects: cumulative, ending with ``+Inf``."""
        pairs = []
        running = 0
        for bound, in_bucket in zip(self.buckets, self.bucket_counts, strict=False):
            running += in_bucket
            pairs.append((_le_label(bound), running))
        pairs.append(("+Inf", running + self.bucket_counts[-1]))
        return pairs


def _le_label(bound: float) -> str:
    """``0.5`` -> ``"0.5"``, ``1`` -> ``"1.0"`` (the form prometheus-client writes)."""
    return repr(float(bound))
