"""The status document as the figures last left it: built and encoded once, served many times.

A status request costs what ``/health`` costs: the document and its JSON are built again only
when something they are made of changed (a refresh, a poll's outcome, a checklist tick, the
events, the cloud cost, the home directory sizes, the hub URL a request shows) or when the
last build is older than ``max_age`` by the service's clock (so the parts that follow the
clock alone, staleness and days until an event, are never older than that).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..core.clock import Clock, as_utc
from ..core.status.model import StatusDocument
from ..core.status.write import to_json

#: The longest a built status document is served unchanged while nothing it is made of changes.
STATUS_MAX_AGE = timedelta(seconds=5)


def encode(document: StatusDocument) -> bytes:
    """The document as the API sends it: compact JSON with sorted keys (an indent switches
    Python's json to its much slower pure-Python encoder)."""
    return json.dumps(to_json(document), sort_keys=True).encode()


@dataclass(frozen=True)
class Published:
    """One built status document and its JSON."""

    #: What it was built from (compared by identity) and for which hub URL.
    inputs: tuple[Any, ...]
    hub_url: str
    built_at: datetime
    document: StatusDocument
    body: bytes


class PublishedStatus:
    """Keeps the latest status document per hub URL as a request shows it (one, in practice).

    *inputs* gives the objects the document is made of: the service replaces each of them,
    never changes one in place, so an unchanged object means an unchanged part.
    """

    #: Hub URLs kept at once (a request's Host header picks one: bounded against many).
    MAX_URLS = 4

    def __init__(
        self,
        build: Callable[[str], StatusDocument],
        inputs: Callable[[], Sequence[Any]],
        clock: Clock,
        max_age: timedelta = STATUS_MAX_AGE,
    ) -> None:
        self._build = build
        self._inputs = inputs
        self._clock = clock
        self.max_age = max_age
        self._kept: dict[str, Published] = {}

    def __len__(self) -> int:
        """How many hub URLs have a document kept."""
        return len(self._kept)

    def get(self, hub_url: str) -> Published:
        """The current document for *hub_url*, built now only when it is due."""
        inputs = tuple(self._inputs())
        now = as_utc(self._clock())
        kept = self._kept.get(hub_url)
        if kept is not None and self._fresh(kept, inputs, now):
            return kept
        document = self._build(hub_url)
        published = Published(inputs, hub_url, now, document, encode(document))
        if hub_url not in self._kept and len(self._kept) >= self.MAX_URLS:
            self._kept.pop(next(iter(self._kept)))
        self._kept[hub_url] = published
        return published

    def _fresh(self, kept: Published, inputs: tuple[Any, ...], now: datetime) -> bool:
        if len(inputs) != len(kept.inputs):
            return False
        if any(a is not b for a, b in zip(inputs, kept.inputs, strict=True)):
            return False
        return kept.built_at <= now < kept.built_at + self.max_age
