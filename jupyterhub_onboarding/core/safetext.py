"""The one rule for text that came from outside (a hub's status document, a hub user's
server options, an event an admin typed): which characters it may not carry, and what
each becomes when it is shown.

Unsafe are the Unicode categories Cc (C0 and C1 controls and DEL: terminal escapes, tabs
and line breaks, NEL), Cf (format characters: bidirectional marks, embeddings, overrides
and isolates, zero-width characters, the byte-order mark), Cs (lone surrogates, which
cannot be written as UTF-8), Zl and Zp (line and paragraph separators). Text read for
display has each replaced by a visible mark; input that must be stored as typed (an
event's title) is refused instead (:func:`unsafe_characters`).
"""

from __future__ import annotations

import unicodedata

UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
#: What an unsafe character becomes: visible, so a reader sees that something was there.
REPLACEMENT = "\ufffd"
ELLIPSIS = "\u2026"


def is_unsafe(character: str) -> bool:
    return unicodedata.category(character) in UNSAFE_CATEGORIES


def unsafe_characters(text: str, allowed: str = "") -> list[str]:
    """The unsafe characters in *text*, in order, apart from those in *allowed*."""
    if text.isprintable():  # the usual case: every unsafe character is non-printable
        return []
    return [ch for ch in text if ch not in allowed and is_unsafe(ch)]


def safe_text(text: str, limit: int | None = None) -> str:
    """*text* with every unsafe character replaced by U+FFFD, so it can carry no escape
    sequence, forged line or reordered text into any output; longer than *limit*
    characters, it is cut and ends with an ellipsis."""
    if not text.isprintable():
        text = "".join(REPLACEMENT if is_unsafe(ch) else ch for ch in text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + ELLIPSIS
    return text
