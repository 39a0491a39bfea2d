"""Python's garbage collector kept out of the way of requests.

A full collection walks every container object the process holds: with a year of sessions at
100,000 users, or while a full sync holds 100,000 parsed users, one takes 100-500 ms, and the
event loop waits that long. Two things keep collections short:

- what start built (modules, the figures' caches) is moved out of the collector's reach once
  the first figures are read (``gc.freeze``): it lives as long as the process;
- while a large, short-lived structure is alive (a full sync's users, the first reading of
  the year), full collections are held back: the young generations are still collected, and
  the structure is freed by reference counting when the work ends, before the next full
  collection has anything large to walk.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: The oldest generation's threshold while full collections are held back: never reached.
HELD_THRESHOLD = 2**30


class Collections:
    """Holds full collections back while any holder is inside :meth:`held`."""

    def __init__(self) -> None:
        self._holders = 0
        self._threshold: tuple[int, int, int] | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        """No full collection while the block runs (young ones go on)."""
        if self._holders == 0:
            self._threshold = gc.get_threshold()
            young, middle, _oldest = self._threshold
            gc.set_threshold(young, middle, HELD_THRESHOLD)
        self._holders += 1
        try:
            yield
        finally:
            self._holders -= 1
            if self._holders == 0 and self._threshold is not None:
                gc.set_threshold(*self._threshold)
                self._threshold = None

    @staticmethod
    def keep_what_start_built() -> None:
        """Move every object alive now out of the collector's walks, for good."""
        gc.freeze()
