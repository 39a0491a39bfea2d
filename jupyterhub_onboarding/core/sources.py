"""What went wrong with an outside source of figures (Prometheus, a cost endpoint), as a value.

A source's reader never raises into the service: it keeps its last figures and a
:class:`SourceProblem` saying why the latest read failed, in words safe to log and to show
(no token, no URL credentials, no usernames, bounded and without control characters).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

#: The source could not be reached: connection refused, DNS, TLS, or no answer in time.
UNREACHABLE = "unreachable"
#: The source refused the service's credentials (HTTP 401 or 403).
REFUSED = "refused"
#: The source answered with an error (an HTTP error, or Prometheus's own error answer).
ERROR = "error"
#: The source answered something that is not what was asked for.
GARBAGE = "garbage"
#: The source answered, but without any figure.
NO_DATA = "no data"
#: The service's own settings keep it from asking (e.g. a token file it cannot read).
MISCONFIGURED = "misconfigured"

KINDS = (UNREACHABLE, REFUSED, ERROR, GARBAGE, NO_DATA, MISCONFIGURED)

#: The longest detail kept from a source's own words.
MAX_DETAIL_LENGTH = 200

_WORDS = {
    UNREACHABLE: "is unreachable",
    REFUSED: "refused the service's credentials",
    ERROR: "answered an error",
    GARBAGE: "answered something unexpected",
    NO_DATA: "has no figures",
    MISCONFIGURED: "cannot be asked",
}


def clean_detail(text: object, limit: int = MAX_DETAIL_LENGTH) -> str:
    """*text* on one line: control and format characters as spaces, at most *limit*
    characters (cut with an ellipsis)."""
    cleaned = "".join(
        " " if unicodedata.category(char)[0] == "C" else char for char in str(text)
    ).strip()
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1] + "…"
    return cleaned


@dataclass(frozen=True)
class SourceProblem:
    """Why the latest read of *source* (e.g. ``Prometheus``) failed, and when."""

    source: str
    kind: str
    detail: str
    at: datetime

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        object.__setattr__(self, "detail", clean_detail(self.detail))

    def message(self) -> str:
        """``Prometheus is unreachable (connection refused)``."""
        words = f"{self.source} {_WORDS[self.kind]}"
        return f"{words} ({self.detail})" if self.detail else words
