"""The published JSON Schema of the status document, for tests that check a served one.

``assert_valid_status(document)`` fails with every violation named by its path. The real
hub's helpers (:class:`harness.hub.HubProcess`) call it on every document ``api/v1/status``
serves; unit tests call it on what the writer makes.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from harness.process import StopWaiting

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "status.schema.json"


@cache
def status_validator() -> Draft202012Validator:
    """A validator of docs/status.schema.json that also checks formats (date-time, date)."""
    schema = json.loads(SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def status_violations(document: Any) -> list[str]:
    """Each way *document* breaks the schema, as ``path: message``."""
    return sorted(
        f"{'/'.join(str(part) for part in error.absolute_path) or '(document)'}: {error.message}"
        for error in status_validator().iter_errors(document)
    )


class InvalidStatus(StopWaiting, AssertionError):
    """A document that breaks the schema: a test fails, and a wait for a status ends."""


def assert_valid_status(document: Any) -> None:
    """Fail unless *document* is a status document as docs/status.schema.json says."""
    violations = status_violations(document)
    if violations:
        raise InvalidStatus("not a valid status document:\n" + "\n".join(violations))
