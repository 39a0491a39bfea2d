"""The one retry policy of the package: exponential backoff, by tenacity.

The hub client, the service's database calls and the collector retry through it. What is
worth retrying is each caller's decision (a collector timeout is not; a connection error
or a 5xx is); how often and how long to wait is this policy's.

tenacity, because it is the well-kept library that awaits coroutines, takes an injectable
sleep (tests run without waiting) and reports each retry to a callback; stamina is built
on it and adds instrumentation the service does not need, and JupyterHub's own
``exponential_backoff`` waits for a condition to become true rather than retrying a call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_exponential

T = TypeVar("T")

#: Called before each wait: (retry number from 1, seconds to wait, the error retried).
BeforeRetry = Callable[[int, float, BaseException], None]


@dataclass(frozen=True)
class RetryPolicy:
    """*retries* more attempts after the first, waiting *backoff* seconds before the first
    retry and twice as long before each further one."""

    retries: int = 2
    backoff: float = 0.5

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number *retry* (1 = the first retry)."""
        return self.backoff * 2 ** (retry - 1)

    def total_delay(self) -> float:
        """Seconds spent waiting when every attempt fails."""
        return sum(self.delay(retry) for retry in range(1, self.retries + 1))

    async def call(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        retry_on: Callable[[BaseException], bool],
        before_retry: BeforeRetry | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> T:
        """Await ``attempt()`` until it succeeds, raises an error *retry_on* refuses, or the
        retries are used up; the last error is raised as it is."""

        def notify(state: RetryCallState) -> None:
            if before_retry is None or state.outcome is None or state.next_action is None:
                return
            error = state.outcome.exception()
            if error is not None:
                before_retry(state.attempt_number, state.next_action.sleep, error)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=wait_exponential(multiplier=self.backoff, exp_base=2, min=0),
            retry=retry_if_exception(retry_on),
            before_sleep=notify,
            sleep=sleep,
            reraise=True,
        )

        async def run() -> T:
            # tenacity awaits only coroutine functions; *attempt* may return any awaitable
            return await attempt()

        return await retrying(run)
