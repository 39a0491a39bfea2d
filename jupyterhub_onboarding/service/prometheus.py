"""A reader of Prometheus's HTTP query API: instant queries, now or at a given time."""

from __future__ import annotations

import logging
from datetime import datetime

from ..core.clock import as_utc
from ..core.promapi import ErrorAnswer, InvalidAnswer, QueryResult, parse_query_answer
from ..core.sources import ERROR, GARBAGE
from ..retry import RetryPolicy
from .sourceclient import JsonSource, SourceUnavailable

#: How sources are named in problems and on the page.
SOURCE_NAME = "Prometheus"


class PrometheusReader:
    """Evaluates PromQL on the Prometheus at *url* (``GET {url}/api/v1/query``).

    Every failure is :class:`~.sourceclient.SourceUnavailable`: unreachable (no connection,
    no answer within *timeout*), refused (401/403), an error answer (a bad query, a query
    timeout; Prometheus's own message as detail) or garbage (no query result).
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        bearer_token_file: str = "",
        retry_policy: RetryPolicy | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._source = JsonSource(
            self.url,
            timeout=timeout,
            token_file=bearer_token_file,
            file_option="Onboarding.prometheus_bearer_token_file",
            retry_policy=retry_policy,
            log=log,
        )

    def close(self) -> None:
        self._source.close()

    async def query(self, expr: str, at: datetime | None = None) -> QueryResult:
        """The instant vector (or scalar) of *expr*, evaluated now or at *at*."""
        # plain seconds: Prometheus's durations ("30s") take whole numbers only
        params = {"query": expr, "timeout": f"{self.timeout:g}"}
        if at is not None:
            params["time"] = f"{as_utc(at).timestamp():.3f}"
        body = await self._source.get_json("/api/v1/query", params)
        try:
            return parse_query_answer(body)
        except ErrorAnswer as error:
            raise SourceUnavailable(ERROR, str(error)) from None
        except InvalidAnswer as error:
            raise SourceUnavailable(GARBAGE, str(error)) from None
