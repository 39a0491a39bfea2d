"""The JSON Schema of the status document, generated from the model.

Published as ``docs/status.schema.json`` (``docs/openapi.yaml`` refers to it); regenerate
with ``python -m jupyterhub_onboarding.core.status.schema > docs/status.schema.json``, and a
test keeps the two equal. Every bound the reader checks is here; text longer than a field's
length is valid (the reader cuts it), so lengths are said in the descriptions.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from .model import (
    FIRST_VERSION,
    MAX_COUNT,
    MAX_KEYS,
    MAX_NUMBER,
    SCHEMA_VERSION,
    StatusDocument,
    may_be_left_out,
    present_type,
)

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema() -> dict[str, Any]:
    """The schema of :class:`~.model.StatusDocument`, its objects in ``$defs``."""
    definitions: dict[str, Any] = {}
    root = _object(StatusDocument, definitions)
    later = [
        item.name
        for item in dataclasses.fields(StatusDocument)
        if item.metadata.get("since", FIRST_VERSION) > FIRST_VERSION
    ]
    root["required"] = [name for name in root["required"] if name != "schema_version"]
    root["properties"]["schema_version"]["maximum"] = SCHEMA_VERSION
    return {
        "$schema": DIALECT,
        **root,
        "title": "jupyterhub-onboarding status document (api/v1/status)",
        "description": (
            f"The status of one hub, schema version {SCHEMA_VERSION}. Documents without "
            "schema_version come from earlier releases (version 1) and may lack the "
            f"sections added since: {', '.join(later)}. No usernames, ever."
        ),
        "if": {"required": ["schema_version"]},
        "then": {"required": later},
        "$defs": dict(sorted(definitions.items())),
    }


def _object(cls: type, definitions: dict[str, Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    required = []
    for item in dataclasses.fields(cls):
        hint = present_type(hints[item.name], item.metadata)
        properties[item.name] = _field(hint, item.metadata, definitions)
        if not may_be_left_out(item.metadata):
            required.append(item.name)
    schema: dict[str, Any] = {"type": "object"}
    if cls.__doc__ and not cls.__doc__.startswith(f"{cls.__name__}("):
        schema["description"] = " ".join(cls.__doc__.split())
    return {**schema, "required": required, "properties": properties}


def _reference(cls: type, definitions: dict[str, Any]) -> dict[str, Any]:
    if cls.__name__ not in definitions:
        definitions[cls.__name__] = {}  # taken before it is built: no cycles
        definitions[cls.__name__] = _object(cls, definitions)
    return {"$ref": f"#/$defs/{cls.__name__}"}


def _field(hint: Any, meta: Mapping[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    schema = _type(hint, meta, definitions)
    notes = [meta["doc"].rstrip(".") + "."] if meta.get("doc") else []
    if "max_length" in meta and "pattern" not in meta:
        notes.append(f"Longer than {meta['max_length']} characters, it is cut when read.")
    if notes:
        schema = {**schema, "description": " ".join(notes)}
    return schema


def _type(hint: Any, meta: Mapping[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        (inner,) = (arg for arg in typing.get_args(hint) if arg is not type(None))
        schema = _type(inner, meta, definitions)
        if "type" in schema and isinstance(schema["type"], str):
            return {**schema, "type": [schema["type"], "null"]}
        return {"anyOf": [schema, {"type": "null"}]}
    if dataclasses.is_dataclass(hint):
        return _reference(hint, definitions)  # type: ignore[arg-type]
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": _type(args[0], meta, definitions)}
        items = [_type(arg, {}, definitions) for arg in args]
        return {"type": "array", "prefixItems": items, "minItems": len(args), "items": False}
    if origin is Mapping:
        schema = {
            "type": "object",
            "maxProperties": MAX_KEYS,
            "additionalProperties": _type(typing.get_args(hint)[1], meta, definitions),
        }
        keys = meta.get("keys", ())
        if keys:
            value = schema["additionalProperties"]
            schema["properties"] = {key: value for key in keys}
        if keys and meta.get("required"):
            schema["required"] = list(keys)
        return schema
    return _scalar(hint, meta)


def _scalar(hint: Any, meta: Mapping[str, Any]) -> dict[str, Any]:
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        maximum: float = meta.get("maximum", MAX_COUNT)
        return {"type": "integer", "minimum": meta.get("minimum", 0), "maximum": maximum}
    if hint is float:
        maximum = meta.get("maximum", MAX_NUMBER)
        return {"type": "number", "minimum": meta.get("minimum", 0), "maximum": maximum}
    if hint is datetime:
        return {"type": "string", "format": "date-time"}
    if hint is date:
        return {"type": "string", "format": "date"}
    schema: dict[str, Any] = {"type": "string"}
    if meta.get("pattern"):
        schema["pattern"] = meta["pattern"]
    if meta.get("choices"):
        schema["enum"] = list(meta["choices"])
    return schema


def main() -> None:
    print(json.dumps(json_schema(), indent=2))


if __name__ == "__main__":
    main()
