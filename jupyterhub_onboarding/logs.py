"""Log lines that carry no secret and cannot be forged, from whichever logger writes them.

:class:`RedactingFilter` goes on a log handler. Every record that handler writes, from any
logger (the application's own, tornado's, JupyterHub's, the root logger's), first has

- the values of secrets redacted: ``token``, ``code``, ``state`` and the like as query or
  form fields (``?token=...``), as ``key=value`` or ``'key': 'value'`` pairs, the
  ``Authorization`` header (``token ...``, ``bearer ...``), cookies and tornado's signed
  cookie values;
- control characters escaped in the message (a newline becomes ``\\n``), so text that came
  from a request cannot start a line of its own. A traceback keeps its line breaks; the
  messages of its exceptions are escaped and redacted like any message.

Use :func:`with_redaction` on an application's logging configuration (``dictConfig``
form) to put the filter on every handler it defines.
"""

from __future__ import annotations

import logging
import re
import traceback
import unicodedata
from collections.abc import Iterator
from types import TracebackType
from typing import Any
from urllib.parse import unquote_plus

#: What a secret's value is replaced with.
REDACTED = "[redacted]"

#: Field names whose values are secret (compared lower-case, ``-`` read as ``_``).
SECRET_KEYS = frozenset(
    {
        "token",
        "code",
        "state",
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
        "password",
        "secret",
        "client_secret",
        "code_verifier",
        "_xsrf",
        "x_xsrftoken",
        "x_csrftoken",
    }
)
#: Endings of field names that are secret too: ``api_token``, ``oauth_state``, ...
SECRET_SUFFIXES = ("_token", "_secret", "_state", "_password")

#: Schemes of an ``Authorization`` value, kept in front of the redacted credential.
_AUTH_SCHEMES = r"(?:token|bearer|basic)"
#: A quoted value as ``repr`` or JSON writes it (``'x'``, ``"x"``, ``b'x'``).
_QUOTED = r"""b?(?:'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*")"""
#: An unquoted value: up to whitespace or a separator of query strings and headers.
_BARE = r"""[^\s&;,'"]*"""

_PAIR = re.compile(
    # ?token=x, &code=x, state='x', api_token="x", Authorization=token%20x
    rf"""(?P<key>(?<![\w%.\-])[\w%.\-]+)=(?P<value>{_QUOTED}|{_BARE})""",
    re.IGNORECASE,
)
_MAPPING = re.compile(
    # {'token': 'x'}, "Authorization": "token x", 'code': b'x'
    rf"""(?P<q>['"])(?P<key>[\w.\-]+)(?P=q)\s*:\s*(?P<value>{_QUOTED}|[^\s,}}\]]+)""",
)
_HEADER = re.compile(
    # Authorization: token x, authorization: Bearer x, Cookie: a=b; c=d
    rf"""(?P<key>\b(?:proxy-)?authorization|\bcookie|\bset-cookie)(?P<sep>\s*:\s*)"""
    rf"""(?:(?P<scheme>{_AUTH_SCHEMES})\s+)?(?P<value>[^\s'",]+(?:;\s*[^\s'",;]+)*)""",
    re.IGNORECASE,
)
_ARGUMENT = re.compile(
    # JupyterHub: "oauth state argument 'x' != cookie ..."
    rf"""\b(?P<key>token|code|state)(?P<sep>\s+argument\s+)(?P<value>{_QUOTED}|\S+)""",
    re.IGNORECASE,
)
#: tornado's signed values (version 2), which is how cookies hold a hub token.
_SIGNED = re.compile(r"\b2\|1:\d+\|\d+:\d+\|\d+:[^|\s]*\|\d+:[^|\s]*\|[0-9a-f]{32,}")


def is_secret_key(key: str) -> bool:
    """Whether a field called *key* (as sent, percent-encoded or not) holds a secret."""
    name = unquote_plus(key).strip().lower().replace("-", "_")
    return name in SECRET_KEYS or name.endswith(SECRET_SUFFIXES)


def _pair(match: re.Match[str]) -> str:
    if not is_secret_key(match["key"]) or not match["value"]:
        return match[0]
    return f"{match['key']}={REDACTED}"


def _mapping(match: re.Match[str]) -> str:
    if not is_secret_key(match["key"]):
        return match[0]
    quote = match["q"]
    return f"{quote}{match['key']}{quote}: {quote}{REDACTED}{quote}"


def _header(match: re.Match[str]) -> str:
    scheme = f"{match['scheme']} " if match["scheme"] else ""
    return f"{match['key']}{match['sep']}{scheme}{REDACTED}"


def _argument(match: re.Match[str]) -> str:
    return f"{match['key']}{match['sep']}{REDACTED}"


def redact(text: str) -> str:
    """*text* with the value of every secret it shows replaced by ``[redacted]``."""
    if not text:
        return text
    text = _SIGNED.sub(REDACTED, text)
    text = _HEADER.sub(_header, text)
    text = _MAPPING.sub(_mapping, text)
    text = _ARGUMENT.sub(_argument, text)
    return _PAIR.sub(_pair, text)


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: Control, format (bidirectional overrides, zero-width) and line/paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def _escape_char(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if unicodedata.category(char) not in _UNSAFE_CATEGORIES:
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str) -> str:
    """*text* on one line: newlines, other control characters and bidirectional overrides
    written as escapes (``\\n``, ``\\x1b``, ``\\u202e``)."""
    if text.isprintable():
        return text
    return "".join(_escape_char(char) for char in text)


def clean(text: str) -> str:
    """A message as it may be logged: on one line, then redacted (a value that ran on past
    a line break is redacted with what followed it)."""
    return redact(escape(text))


ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def _exception_lines(exc: traceback.TracebackException) -> Iterator[str]:
    """A traceback as Python prints it, each exception's own text cleaned to one line."""
    if exc.__cause__ is not None:
        yield from _exception_lines(exc.__cause__)
        yield "\nThe above exception was the direct cause of the following exception:\n\n"
    elif exc.__context__ is not None and not exc.__suppress_context__:
        yield from _exception_lines(exc.__context__)
        yield "\nDuring handling of the above exception, another exception occurred:\n\n"
    if exc.stack:
        yield "Traceback (most recent call last):\n"
        yield from exc.stack.format()
    yield clean("".join(exc.format_exception_only()).rstrip("\n")) + "\n"
    for number, inner in enumerate(getattr(exc, "exceptions", None) or (), start=1):
        # an exception group's members, indented: no line of theirs starts a log line
        yield f"  +---------------- {number} ----------------\n"
        for chunk in _exception_lines(inner):
            for line in chunk.splitlines():
                yield f"  | {line}\n"


def format_exception(exc_info: ExcInfo) -> str:
    """The traceback of *exc_info* with its exception messages redacted and escaped."""
    _, value, tb = exc_info
    exc = traceback.TracebackException(type(value), value, tb, compact=True)
    return "".join(_exception_lines(exc)).rstrip("\n")


class RedactingFilter(logging.Filter):
    """Put on a handler: every record it writes is redacted and cannot forge a line.

    The record's message is formatted once, cleaned and stored back (``args`` emptied);
    its traceback is formatted here, cleaned, and stored as the record's ``exc_text``, which
    every ``logging.Formatter`` then prints as is. Applying it twice changes nothing.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: show both, cleaned
            message = f"{record.msg!r} % {record.args!r}"
        record.msg = clean(message.rstrip("\r\n"))
        record.args = None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = format_exception(record.exc_info)
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def with_redaction(config: dict[str, Any]) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` configuration with :class:`RedactingFilter` on every
    handler it defines (changed in place and returned)."""
    handlers = config.get("handlers")
    if not handlers:
        return config
    config.setdefault("filters", {})["redact_secrets"] = {"()": RedactingFilter}
    for handler in handlers.values():
        filters = handler.setdefault("filters", [])
        if "redact_secrets" not in filters:
            filters.append("redact_secrets")
    return config


def ensure_redacted(handler: logging.Handler) -> None:
    """Add :class:`RedactingFilter` to *handler* unless it has one."""
    if not any(isinstance(existing, RedactingFilter) for existing in handler.filters):
        handler.addFilter(RedactingFilter())


#: The start of JupyterHub's notice for a cookie-authenticated read-only request that
#: carries no ``Sec-Fetch-Mode`` header (see :class:`RepeatedXsrfNotice`).
XSRF_NOTICE = "Skipping XSRF check for insecure request"


class RepeatedXsrfNotice(logging.Filter):
    """Put on the ``tornado.application`` logger: JupyterHub's XSRF notice once, not per view.

    JupyterHub's service authentication warns "Skipping XSRF check for insecure request" for
    every cookie-authenticated GET without a ``Sec-Fetch-Mode`` header. Browsers send that
    header only to https (and localhost) addresses, and scripts never do, so on a plain-http
    hub every page view would log it. The check it skips is one a read-only request does not
    need; the first notice stays a warning (it says the hub is served over plain http), the
    later ones are DEBUG lines.
    """

    def __init__(self) -> None:
        super().__init__()
        self.warned = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING or not str(record.msg).startswith(XSRF_NOTICE):
            return True
        if not self.warned:
            self.warned = True
            record.msg = (
                f"{record.msg} (the request had no Sec-Fetch-Mode header, which browsers "
                "send only over https; further such requests are logged at DEBUG)"
            )
            return True
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
