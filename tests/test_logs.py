"""Log redaction and escaping (``jupyterhub_onboarding.logs``): hostile strings, no servers.

The service's real log, with a real hub, is checked in tests/service/test_auth_hardening.py.
"""

from __future__ import annotations

import io
import logging
import re
import subprocess
import sys
import unicodedata
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyterhub_onboarding.logs import (
    REDACTED,
    RedactingFilter,
    RepeatedXsrfNotice,
    clean,
    escape,
    redact,
    with_redaction,
)

SECRET = "s3cr3t-VALUE-0001"
#: A log line of the service, as a forged one would imitate it.
FORGED = "[I 2026-01-01 00:00:00.000 Onboarding] Full poll recorded 999 users FORGED"


@pytest.mark.parametrize(
    "text",
    [
        f"401 GET /services/onboarding/api/v1/status?token={SECRET} (127.0.0.1): no",
        f"GET /services/onboarding/oauth_callback?code={SECRET}&state=abc (10.0.0.1)",
        f"GET /services/onboarding/oauth_callback?state={SECRET}&code=abc",
        f"GET /x?a=1;token={SECRET}",
        f"GET /x?%74oken={SECRET}",  # percent-encoded name: tornado decodes it to token
        f"GET /x?TOKEN={SECRET}",
        f"GET /x?access_token={SECRET}&x=1",
        f"POST body: client_id=svc&client_secret={SECRET}&grant_type=authorization_code",
        f"code_verifier={SECRET} redirect_uri=/services/onboarding/oauth_callback",
        f"oauth state argument '{SECRET}' != cookie service-onboarding-oauth-state=None",
        f"oauth state argument 'x' != cookie service-onboarding-oauth-state='{SECRET}'",
        f"oauth state argument b'{SECRET}' != cookie x",
        f"headers={{'Authorization': 'token {SECRET}', 'Accept': 'application/json'}}",
        f'{{"Authorization": "Bearer {SECRET}", "name": "x"}}',
        f'{{"code": "{SECRET}"}}',
        f"{{'api_token': b'{SECRET}'}}",
        f"Authorization: token {SECRET}",
        f"authorization: Bearer {SECRET}",
        f"Authorization:bearer {SECRET}",
        f"Authorization=token%20{SECRET}",
        f"Proxy-Authorization: Basic {SECRET}",
        f"Cookie: service-onboarding={SECRET}; _xsrf=abc",
        f"token={SECRET}<script>",
        f"token=<{SECRET}>",
        f"token='{SECRET} with spaces'",
        f'state="{SECRET}\\" still quoted"',
        # tornado's signed cookie value: base64 of the hub token inside
        f"2|1:0|10:1700000000|18:service-onboarding|24:{SECRET}|" + "0a" * 32,
    ],
)
def test_secret_values_are_redacted(text):
    cleaned = clean(text)
    assert SECRET not in cleaned, cleaned
    assert REDACTED in cleaned


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"401 GET /services/onboarding/api/v1/status?token={SECRET} (127.0.0.1): "
            "send a hub API token",
            "401 GET /services/onboarding/api/v1/status?token=[redacted] (127.0.0.1): "
            "send a hub API token",
        ),
        (f"/cb?code={SECRET}&state=abc&next=/x", "/cb?code=[redacted]&state=[redacted]&next=/x"),
        (f"Authorization: token {SECRET}", "Authorization: token [redacted]"),
        (f"{{'Authorization': 'bearer {SECRET}'}}", "{'Authorization': '[redacted]'}"),
        # what is not a secret stays readable
        ("200 GET /services/onboarding/ 3.1ms", "200 GET /services/onboarding/ 3.1ms"),
        ("status_code=403 error=access_denied", "status_code=403 error=access_denied"),
        ("Token stored in cookie may have expired", "Token stored in cookie may have expired"),
        ("Full poll recorded 12 users in 0.03s", "Full poll recorded 12 users in 0.03s"),
        ("token= (empty)", "token= (empty)"),
    ],
)
def test_redaction_keeps_the_rest_of_the_line(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"oops\n{FORGED}", f"oops\\n{FORGED}"),
        (f"oops\r\n{FORGED}", f"oops\\r\\n{FORGED}"),
        ("a\x1b[31mred\x1b[0m", "a\\x1b[31mred\\x1b[0m"),
        ("name\u202eevil", "name\\u202eevil"),  # right-to-left override
        (
            "line\u2028separator\u2029paragraph\x85next",
            "line\\u2028separator\\u2029paragraph\\x85next",
        ),
        ("nul\x00bell\x07del\x7f", "nul\\x00bell\\x07del\\x7f"),
        ("tab\there", "tab\\there"),
        ("caf\u00e9 \u00a0 \u4e2d\u6587 \U0001f600", "caf\u00e9 \u00a0 \u4e2d\u6587 \U0001f600"),
    ],
)
def test_control_characters_are_escaped(text, expected):
    assert escape(text) == expected


UNSAFE = {"Cc", "Cf", "Zl", "Zp"}


@given(st.text())
def test_any_text_is_cleaned_to_one_line_without_control_characters(text):
    cleaned = clean(text)
    assert not [char for char in cleaned if unicodedata.category(char) in UNSAFE]
    assert len(f"x{cleaned}x".splitlines()) == 1
    assert clean(cleaned) == cleaned, "cleaning twice changes nothing"


@given(st.text(min_size=1), st.sampled_from(["token", "code", "state", "access_token"]))
def test_any_value_of_a_secret_query_field_is_redacted(value, key):
    line = f"401 GET /services/onboarding/api/v1/status?{key}={quote(value)} (127.0.0.1)"
    assert clean(line) == (
        f"401 GET /services/onboarding/api/v1/status?{key}=[redacted] (127.0.0.1)"
    )


# -- the filter on a real logging handler ------------------------------------------------------


@pytest.fixture
def captured():
    """A logger whose one handler carries the filter, and what that handler wrote."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("[%(levelname)1.1s %(name)s] %(message)s"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test_logs.captured")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger, stream
    logger.handlers[:] = []


def test_filter_redacts_formatted_arguments_and_escapes_newlines(captured):
    logger, stream = captured
    logger.warning(
        "%d %s: %s", 400, f"GET /cb?code={SECRET} (10.0.0.1)", f"Error in oauth: oops\n{FORGED}"
    )
    logger.info("headers %r", {"Authorization": f"token {SECRET}"})
    logger.info("%(what)s", {"what": f"state={SECRET}"})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3, lines
    assert SECRET not in stream.getvalue()
    assert lines[0] == (
        "[W test_logs.captured] 400 GET /cb?code=[redacted] (10.0.0.1): Error in oauth: oops\\n"
        + FORGED
    )


def test_filter_keeps_a_traceback_but_escapes_and_redacts_its_messages(captured):
    logger, stream = captured

    def fail() -> None:
        try:
            raise KeyError(f"token={SECRET}")
        except KeyError as error:
            raise RuntimeError(f"bad request ?code={SECRET} from\n{FORGED}") from error

    try:
        fail()
    except RuntimeError:
        logger.exception("Request failed: %s", f"Authorization: bearer {SECRET}")
    text = stream.getvalue()
    lines = text.splitlines()
    assert SECRET not in text, text
    assert lines[0] == "[E test_logs.captured] Request failed: Authorization: bearer [redacted]"
    assert "Traceback (most recent call last):" in lines
    assert any(line.startswith("  File ") for line in lines), "the stack is kept"
    assert "The above exception was the direct cause of the following exception:" in lines
    assert lines[-1] == f"RuntimeError: bad request ?code=[redacted] from\\n{FORGED}"
    assert not any(line.startswith(FORGED) for line in lines)


def test_filter_handles_exception_groups_and_messages_that_do_not_fit(captured):
    logger, stream = captured
    if sys.version_info >= (3, 11):
        try:
            raise ExceptionGroup("group", [ValueError(f"code={SECRET}\n{FORGED}")])  # noqa: F821
        except Exception:
            logger.exception("grouped")
    logger.error("two %s %s", f"token={SECRET}")  # one argument short
    text = stream.getvalue()
    assert SECRET not in text
    assert not any(line.startswith(FORGED) for line in text.splitlines())
    assert "two %s %s" in text


def test_filter_applies_to_lines_of_other_loggers_through_the_handler(captured):
    """A handler's filter sees every record it writes, including other loggers' ones."""
    logger, stream = captured
    other = logging.getLogger("test_logs.other")
    other.propagate = False
    other.handlers[:] = logger.handlers
    try:
        other.warning(f"GET /x?token={SECRET}\n{FORGED}")
    finally:
        other.handlers[:] = []
    assert SECRET not in stream.getvalue()
    assert len(stream.getvalue().splitlines()) == 1


def test_with_redaction_puts_the_filter_on_every_handler():
    config = {
        "version": 1,
        "handlers": {
            "console": {"class": "logging.StreamHandler"},
            "file": {"class": "logging.StreamHandler", "filters": ["mine"]},
        },
        "filters": {"mine": {"()": logging.Filter}},
    }
    with_redaction(config)
    assert config["handlers"]["console"]["filters"] == ["redact_secrets"]
    assert config["handlers"]["file"]["filters"] == ["mine", "redact_secrets"]
    assert with_redaction({"version": 1}) == {"version": 1}


# -- the XSRF notice ---------------------------------------------------------------------------

NOTICE = "Skipping XSRF check for insecure request GET /services/onboarding/"


def test_the_xsrf_notice_is_a_warning_once_then_debug(captured):
    logger, stream = captured
    notice = RepeatedXsrfNotice()
    logger.addFilter(notice)
    try:
        logger.setLevel(logging.WARNING)
        for _ in range(3):
            logger.warning(NOTICE)
        logger.warning("Another warning")
        logger.setLevel(logging.DEBUG)
        logger.warning(NOTICE)
    finally:
        logger.removeFilter(notice)
    lines = stream.getvalue().splitlines()
    assert [line[:3] for line in lines] == ["[W ", "[W ", "[D "], lines
    assert lines[0].startswith(f"[W test_logs.captured] {NOTICE} (the request had no Sec-Fetch")
    assert lines[1] == "[W test_logs.captured] Another warning"


# -- the service's own logging set-up, in a fresh interpreter ------------------------------------

SERVICE_LOGGING = f"""
import logging, warnings
from jupyterhub_onboarding.app import Onboarding
app = Onboarding(log_level="INFO")
app.log.info("Config: early line with token={SECRET}")
app.route_library_logs()
forged = "oops\\n{FORGED}"
logging.getLogger("tornado.general").warning("401 GET /s?token={SECRET} (1.2.3.4): " + forged)
logging.getLogger("tornado.application").warning("oauth state argument %r != cookie", "{SECRET}")
logging.getLogger("jupyterhub.services.auth").error("Authorization: token {SECRET}")
logging.getLogger("sqlalchemy.pool").warning("pool reset, code={SECRET} now\\n{FORGED}")
logging.getLogger().error("root: %s", {{"token": "{SECRET}"}})
warnings.warn("state={SECRET}\\n{FORGED}")
app.log.warning("service: %s", forged)
try:
    raise ValueError("?code={SECRET} from\\n{FORGED}")
except ValueError:
    logging.getLogger("tornado.application").exception("Uncaught exception")
"""


@pytest.mark.integration  # starts a process
def test_every_logger_of_the_service_process_is_redacted_and_escaped():
    result = subprocess.run(
        [sys.executable, "-c", SERVICE_LOGGING],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = result.stderr.splitlines()
    assert SECRET not in result.stderr, result.stderr
    assert not any(line.startswith(FORGED) for line in lines), result.stderr
    for logger in ("tornado.general", "tornado.application", "jupyterhub.services.auth"):
        assert any(f" {logger}] " in line for line in lines), (logger, result.stderr)
    assert any(" sqlalchemy.pool] pool reset, code=[redacted] now\\n[I " in line for line in lines)
    assert any(" root] root: {'token': '[redacted]'}" in line for line in lines), result.stderr
    assert any(" py.warnings] " in line and "state=[redacted]" in line for line in lines)
    assert any(" Onboarding] Config: early line with token=[redacted]" in line for line in lines)
    assert any(re.match(r"^ValueError: \?code=\[redacted\] from\\n\[I ", line) for line in lines)
