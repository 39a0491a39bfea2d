"""The cost reader: a month's cloud cost from Prometheus (``cost_query``) or from the cost
endpoint (``cost_url``), as :class:`~..core.cost.CostFigures`.

A month without a figure, and a source that fails, give the amount None, never 0; a
failure's reason is the figures' ``problem``. Answers are kept for ``cache_seconds`` (a
failure for ``retry_seconds``), so pages and reports asking often do not each ask the
source.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from ..core.clock import Clock, utcnow
from ..core.cost import (
    SOURCE_NONE,
    SOURCE_PROMETHEUS,
    SOURCE_URL,
    CostFigures,
    InvalidCostDocument,
    cost_from_series,
    cost_promql,
    evaluation_time,
    month_of_label,
    not_available,
    parse_cost_document,
)
from ..core.sources import GARBAGE
from ..sourcesettings import SourceSettings
from .prometheus import SOURCE_NAME as PROMETHEUS_NAME
from .prometheus import PrometheusReader
from .sourceclient import JsonSource, SourceUnavailable

#: How the cost endpoint is named in problems and on the page.
URL_SOURCE_NAME = "The cost endpoint"
#: Seconds a month's figures are reused, and a failure's.
CACHE_SECONDS = 900.0
RETRY_SECONDS = 60.0


class CostReader:
    """Gives a month's cost from one source: *prometheus* with *query* (and optionally
    *group_label*), or *endpoint* (the cost URL), or neither (``source`` ``none``)."""

    def __init__(
        self,
        *,
        currency: str = "USD",
        prometheus: PrometheusReader | None = None,
        query: str = "",
        group_label: str = "",
        endpoint: JsonSource | None = None,
        cache_seconds: float = CACHE_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
        clock: Clock = utcnow,
        log: logging.Logger | None = None,
    ) -> None:
        if prometheus is not None and endpoint is not None:
            raise ValueError("a cost reader reads Prometheus or an endpoint, not both")
        if prometheus is not None and not query:
            raise ValueError("reading cost from Prometheus needs a query")
        self.currency = currency
        self.prometheus = prometheus
        self.query = query
        self.group_label = group_label
        self.endpoint = endpoint
        self.cache_seconds = cache_seconds
        self.retry_seconds = retry_seconds
        self.clock = clock
        self.log = log or logging.getLogger(__name__)
        self._cache: dict[str, tuple[datetime, CostFigures]] = {}

    @property
    def source(self) -> str:
        """``prometheus``, ``url`` or ``none``."""
        if self.prometheus is not None:
            return SOURCE_PROMETHEUS
        if self.endpoint is not None:
            return SOURCE_URL
        return SOURCE_NONE

    async def month_cost(self, month: str) -> CostFigures:
        """The cloud cost of the UTC month *month* (``YYYY-MM``); the current month gives
        the cost so far. ValueError for a month that is no ``YYYY-MM``."""
        month = month_of_label(month)
        now = self.clock()
        cached = self._cache.get(month)
        if cached is not None and cached[0] > now:
            return cached[1]
        figures = await self._read(month)
        keep = self.cache_seconds if figures.problem is None else self.retry_seconds
        self._cache[month] = (now + timedelta(seconds=keep), figures)
        return figures

    async def _read(self, month: str) -> CostFigures:
        if self.prometheus is not None:
            name, read = PROMETHEUS_NAME, self._from_prometheus(self.prometheus, month)
        elif self.endpoint is not None:
            name, read = URL_SOURCE_NAME, self._from_endpoint(self.endpoint, month)
        else:
            return not_available(month, self.currency, SOURCE_NONE)
        try:
            return await read
        except SourceUnavailable as error:
            problem = error.problem(name, self.clock()).message()
            self.log.warning("Cloud cost of %s not read: %s", month, problem)
            return not_available(month, self.currency, self.source, problem)

    async def _from_prometheus(self, prometheus: PrometheusReader, month: str) -> CostFigures:
        result = await prometheus.query(cost_promql(self.query, month), evaluation_time(month))
        label = self.group_label
        series = [
            (sample.labels.get(label) if label else None, sample.value) for sample in result.samples
        ]
        try:
            return cost_from_series(month, series, self.currency)
        except ValueError as error:
            raise SourceUnavailable(GARBAGE, str(error)) from None

    async def _from_endpoint(self, endpoint: JsonSource, month: str) -> CostFigures:
        try:
            body = await endpoint.get_json(params={"month": month})
        except SourceUnavailable as error:
            if error.code == 404:
                # the documented way to say "no figure for this month"
                return not_available(month, self.currency, SOURCE_URL)
            raise
        try:
            return parse_cost_document(body, month, self.currency)
        except InvalidCostDocument as error:
            raise SourceUnavailable(GARBAGE, str(error)) from None

    def close(self) -> None:
        if self.prometheus is not None:
            self.prometheus.close()
        if self.endpoint is not None:
            self.endpoint.close()


def cost_reader(
    settings: SourceSettings, *, clock: Clock = utcnow, log: logging.Logger | None = None
) -> CostReader:
    """The cost reader *settings* (the ``Onboarding`` application) ask for; one of source
    ``none`` when neither ``cost_query`` nor ``cost_url`` is set."""
    prometheus = endpoint = None
    if settings.cost_query:
        prometheus = PrometheusReader(
            settings.prometheus_url,
            timeout=settings.prometheus_timeout,
            bearer_token_file=settings.prometheus_bearer_token_file,
            log=log,
        )
    elif settings.cost_url:
        endpoint = JsonSource(
            settings.cost_url,
            timeout=settings.prometheus_timeout,
            token_file=settings.cost_bearer_token_file,
            file_option="Onboarding.cost_bearer_token_file",
            log=log,
        )
    return CostReader(
        currency=settings.cost_currency,
        prometheus=prometheus,
        query=settings.cost_query,
        group_label=settings.cost_group_label,
        endpoint=endpoint,
        clock=clock,
        log=log,
    )
