"""The answers of Prometheus's HTTP query API (``/api/v1/query``), parsed into typed samples.

An instant query answers ``{"status": "success", "data": {"resultType": "vector",
"result": [{"metric": {...labels}, "value": [unix_time, "value"]}, ...]}}`` (or a
``scalar``); an error answers ``{"status": "error", "errorType": ..., "error": ...}``.
Anything else is garbage: :class:`InvalidAnswer`. Series whose labels or value cannot be
used are left out and counted, so one hostile series never spoils the rest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .sources import clean_detail

#: The most series one answer may hold; more is refused as a whole (a query gone wrong).
MAX_SERIES = 100_000
#: The longest label value kept; a series with a longer one is left out (no directory or
#: group name is that long, and cutting it could make two names one).
MAX_LABEL_CHARS = 2048
#: The latest time a sample may carry (year 9999), so every time fits a datetime.
_MAX_TIMESTAMP = 253402300799.0


class InvalidAnswer(ValueError):
    """The answer is not a query result; the message is safe to log."""


class ErrorAnswer(Exception):
    """Prometheus answered with its error document; *detail* is its bounded message."""

    def __init__(self, error_type: str, detail: str) -> None:
        self.error_type = clean_detail(error_type, 40)
        self.detail = clean_detail(detail)
        super().__init__(f"{self.error_type}: {self.detail}")


@dataclass(frozen=True)
class Sample:
    """One series of an instant vector: its labels, value and evaluation time."""

    labels: Mapping[str, str]
    value: float
    at: datetime


@dataclass(frozen=True)
class QueryResult:
    """The usable samples of an answer, and how many series were left out."""

    samples: tuple[Sample, ...] = ()
    rejected: int = 0
    warnings: tuple[str, ...] = field(default_factory=tuple)


def _time(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value) or not 0 <= value <= _MAX_TIMESTAMP:
        return None
    return datetime.fromtimestamp(value, timezone.utc)


def _value(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _sample(pair: Any, labels: Any) -> Sample | None:
    """A sample from a ``[time, "value"]`` pair and a label object, or None."""
    if not isinstance(pair, list) or len(pair) != 2 or not isinstance(labels, dict):
        return None
    at, value = _time(pair[0]), _value(pair[1])
    if at is None or value is None:
        return None
    for name, label in labels.items():
        if not isinstance(label, str) or len(label) > MAX_LABEL_CHARS or len(name) > 256:
            return None
    return Sample(dict(labels), value, at)


def _check_success(body: Any) -> Any:
    """The ``data`` of a successful answer; ErrorAnswer or InvalidAnswer otherwise."""
    if not isinstance(body, dict):
        raise InvalidAnswer(f"expected a JSON object, got {type(body).__name__}")
    status = body.get("status")
    if status == "error":
        raise ErrorAnswer(str(body.get("errorType", "")), str(body.get("error", "")))
    if status != "success":
        raise InvalidAnswer(f"unexpected status {clean_detail(repr(status), 40)}")
    data = body.get("data")
    if not isinstance(data, dict):
        raise InvalidAnswer("the answer has no data object")
    return data


def parse_query_answer(body: Any) -> QueryResult:
    """The samples of an instant query's answer (a vector, or a scalar as one sample
    without labels). ErrorAnswer for Prometheus's error answer, InvalidAnswer for any other
    answer that is no instant query result."""
    data = _check_success(body)
    result_type, result = data.get("resultType"), data.get("result")
    raw_warnings = body.get("warnings")
    warnings = tuple(
        clean_detail(warning) for warning in (raw_warnings or [])[:5] if isinstance(warning, str)
    )
    if result_type == "scalar":
        sample = _sample(result, {})
        if sample is None:
            raise InvalidAnswer("the scalar result is not a [time, value] pair")
        return QueryResult((sample,), 0, warnings)
    if result_type != "vector":
        raise InvalidAnswer(
            f"expected an instant vector, got {clean_detail(repr(result_type), 40)}"
        )
    if not isinstance(result, list):
        raise InvalidAnswer("the vector result is not a list")
    if len(result) > MAX_SERIES:
        raise InvalidAnswer(f"{len(result)} series, more than the {MAX_SERIES:,} read at most")
    samples, rejected = [], 0
    for entry in result:
        sample = (
            _sample(entry.get("value"), entry.get("metric")) if isinstance(entry, dict) else None
        )
        if sample is None:
            rejected += 1
        else:
            samples.append(sample)
    return QueryResult(tuple(samples), rejected, warnings)
