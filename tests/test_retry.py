"""The one retry policy: how often, how long between, and what the caller decides."""

from __future__ import annotations

import asyncio

import pytest

from jupyterhub_onboarding.retry import RetryPolicy


class Flaky:
    """Fails with the given errors in turn, then answers."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "answer"


def run(policy: RetryPolicy, attempt, retry_on=lambda error: isinstance(error, OSError)):
    waits: list[float] = []
    notes: list[tuple[int, float, str]] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def go():
        return await policy.call(
            attempt,
            retry_on=retry_on,
            before_retry=lambda n, delay, error: notes.append((n, delay, str(error))),
            sleep=sleep,
        )

    return asyncio.run(go()), waits, notes


def test_waits_double_from_the_backoff():
    flaky = Flaky(OSError("a"), OSError("b"), OSError("c"))
    result, waits, notes = run(RetryPolicy(retries=3, backoff=0.5), flaky)
    assert result == "answer" and flaky.calls == 4
    assert waits == [0.5, 1.0, 2.0]
    assert notes == [(1, 0.5, "a"), (2, 1.0, "b"), (3, 2.0, "c")]


def test_the_last_error_is_raised_when_retries_run_out():
    flaky = Flaky(OSError("1"), OSError("2"), OSError("3"))
    with pytest.raises(OSError, match=r"^3$"):
        run(RetryPolicy(retries=2, backoff=0.1), flaky)
    assert flaky.calls == 3


def test_an_error_the_caller_refuses_is_not_retried():
    flaky = Flaky(TimeoutError("hung"), OSError("later"))
    with pytest.raises(TimeoutError):
        run(RetryPolicy(retries=5), flaky, retry_on=lambda e: not isinstance(e, TimeoutError))
    assert flaky.calls == 1


def test_no_retries_means_one_attempt():
    flaky = Flaky(OSError("down"))
    with pytest.raises(OSError):
        run(RetryPolicy(retries=0), flaky)
    assert flaky.calls == 1


def test_any_awaitable_is_accepted():
    async def main():
        loop = asyncio.get_running_loop()
        return await RetryPolicy().call(
            lambda: loop.run_in_executor(None, lambda: 42), retry_on=lambda e: False
        )

    assert asyncio.run(main()) == 42


def test_delays_and_their_total():
    policy = RetryPolicy(retries=3, backoff=0.5)
    assert [policy.delay(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert policy.total_delay() == 3.5
    assert RetryPolicy(retries=0).total_delay() == 0
