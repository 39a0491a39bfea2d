"""The one reader of a status document: a JSON value in, the model out, or a StatusError
whose message names the path of the first field that is wrong.

It follows the model (``model.py``) field by field: every type and bound it checks is the
one declared there, and the JSON Schema (``schema.py``) says the same. A count is a whole
number from 0 to MAX_COUNT and any other number is finite and within MAX_NUMBER, so a
400-digit integer or ``1e400`` is refused here, by name, and never reaches arithmetic, a
PDF or a spreadsheet. A document without ``schema_version`` is one of the releases before
it (version 1) and may lack the sections that arrived with version 2.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Hashable, Mapping
from datetime import date, datetime
from functools import cache
from typing import Any, TypeVar

from ..clock import parse_iso
from .model import (
    FIRST_VERSION,
    MAX_COUNT,
    MAX_KEYS,
    MAX_NUMBER,
    SCHEMA_VERSION,
    FieldProblem,
    StatusDocument,
    present_type,
)

T = TypeVar("T")

_DATE = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])")


class StatusError(ValueError):
    """A status document that is not one: the message names the field, e.g.
    ``first_value.achieved_at is not an ISO 8601 UTC time``."""


def read_status(value: object) -> StatusDocument:
    """The model of the status document *value* (parsed JSON); StatusError if it is not one."""
    if not isinstance(value, Mapping):
        raise StatusError("the document is not a JSON object")
    version = schema_version(value)
    return _read_object(StatusDocument, {**value, "schema_version": version}, "", version)


def schema_version(value: Mapping[str, Any]) -> int:
    """The document's ``schema_version``; 1 when it has none (the releases before it)."""
    if "schema_version" not in value:
        return FIRST_VERSION
    version: object = value["schema_version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise StatusError("schema_version is not a whole number")
    if not FIRST_VERSION <= version <= SCHEMA_VERSION:
        raise StatusError(
            f"schema_version {version} is not one this release reads "
            f"({FIRST_VERSION} to {SCHEMA_VERSION}); upgrade jupyterhub-onboarding"
        )
    return version


@cache
def _hints(cls: Hashable) -> dict[str, Any]:
    """The evaluated annotations of a model class (read once per class)."""
    return typing.get_type_hints(cls)


def _path(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def _read_object(cls: type[T], value: object, path: str, version: int) -> T:
    if not isinstance(value, Mapping):
        raise StatusError(f"{path} is not an object")
    hints = _hints(typing.cast(Hashable, cls))
    values: dict[str, Any] = {}
    for item in dataclasses.fields(cls):  # type: ignore[arg-type]
        where = _path(path, item.name)
        if item.name not in value:
            if item.metadata.get("optional") or item.metadata.get("since", FIRST_VERSION) > version:
                values[item.name] = None
                continue
            raise StatusError(f"missing {where}")
        hint = present_type(hints[item.name], item.metadata)
        values[item.name] = _read_value(hint, item.metadata, value[item.name], where, version)
    try:
        return cls(**values)
    except FieldProblem as problem:
        raise StatusError(f"{_path(path, problem.field)} {problem.message}") from None


def _read_value(hint: Any, meta: Mapping[str, Any], value: object, path: str, version: int) -> Any:
    """*value* read as *hint* (a type of the model) with the bounds in *meta*, in a document
    of schema *version*."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        (hint,) = (arg for arg in typing.get_args(hint) if arg is not type(None))
        origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _read_object(hint, value, path, version)  # type: ignore[arg-type]
    if origin is tuple:
        return _read_list(hint, meta, value, path, version)
    if origin is Mapping:
        return _read_map(typing.get_args(hint)[1], meta, value, path, version)
    return _read_scalar(hint, meta, value, path)


def _read_list(
    hint: Any, meta: Mapping[str, Any], value: object, path: str, version: int
) -> tuple[Any, ...]:
    args = typing.get_args(hint)
    if not isinstance(value, list):
        raise StatusError(f"{path} is not a list")
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(
            _read_value(args[0], meta, entry, f"{path}[{index}]", version)
            for index, entry in enumerate(value)
        )
    if len(value) != len(args):
        raise StatusError(f"{path} is not a list of {len(args)}")
    return tuple(
        _read_value(arg, {}, entry, f"{path}[{index}]", version)
        for index, (arg, entry) in enumerate(zip(args, value, strict=True))
    )


def _read_map(
    hint: Any, meta: Mapping[str, Any], value: object, path: str, version: int
) -> dict[str, Any]:
    if not isinstance(value, Mapping) or len(value) > MAX_KEYS:
        raise StatusError(f"{path} is not an object of at most {MAX_KEYS} entries")
    for key in meta.get("keys", ()) if meta.get("required") else ():
        if key not in value:
            raise StatusError(f"missing {path}.{key}")
    return {
        str(key): _read_value(hint, meta, entry, f"{path}.{key}", version)
        for key, entry in value.items()
    }


def _read_scalar(hint: Any, meta: Mapping[str, Any], value: object, path: str) -> Any:
    if hint is bool:
        if not isinstance(value, bool):
            raise StatusError(f"{path} is not true/false")
        return value
    if hint is int:
        return _read_count(meta, value, path)
    if hint is float:
        return _read_number(meta, value, path)
    if hint is str:
        return _read_text(meta, value, path)
    if hint is datetime:
        try:
            return parse_iso(value)  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            raise StatusError(f"{path} is not an ISO 8601 UTC time") from None
    if hint is date:
        if not isinstance(value, str) or not _DATE.fullmatch(value):
            raise StatusError(f"{path} is not a YYYY-MM-DD date")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise StatusError(f"{path} is not a YYYY-MM-DD date") from None
    raise TypeError(f"the status model has a field of a type the reader does not know: {hint}")


def _read_count(meta: Mapping[str, Any], value: object, path: str) -> int:
    minimum = meta.get("minimum", 0)
    maximum = meta.get("maximum", MAX_COUNT)
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON has one kind of number: 2.0 is the count 2
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise StatusError(f"{path} is not a count (a whole number from {minimum:,} to {maximum:,})")
    return value


def _read_number(meta: Mapping[str, Any], value: object, path: str) -> float:
    minimum = meta.get("minimum", 0.0)
    maximum = meta.get("maximum", MAX_NUMBER)
    # compared before any conversion: an int too large for a float is simply out of range
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not minimum <= value <= maximum
        or not math.isfinite(value)
    ):
        raise StatusError(f"{path} is not a number (finite, from {minimum:g} to {maximum:g})")
    return float(value)


def _read_text(meta: Mapping[str, Any], value: object, path: str) -> str:
    if not isinstance(value, str):
        raise StatusError(f"{path} is not text")
    pattern = meta.get("pattern")
    if pattern is not None and not re.fullmatch(pattern, value):
        raise StatusError(f"{path} is not a YYYY-MM month")
    choices = meta.get("choices")
    if choices and value not in choices:
        if len(choices) == 2:
            raise StatusError(f"{path} is neither {choices[0]} nor {choices[1]}")
        raise StatusError(f"{path} is not one of {', '.join(choices)}")
    return value
