"""One retry loop for every request that is safe to repeat (status queries, downloads):
try, and on a retryable failure wait (backoff with full jitter, or the service's
Retry-After) and try again, up to a number of attempts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx

T = TypeVar("T")


class TryAgain(Exception):
    """Raised by an attempt that failed in a way worth repeating.

    ``error``: what to raise when the attempts run out; ``response``: the answer, whose
    Retry-After header (if any) says how long to wait."""

    def __init__(self, error: Exception, response: httpx.Response | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.response = response


async def with_retries(
    attempt: Callable[[], Awaitable[T]],
    *,
    attempts: int,
    wait: Callable[[int, httpx.Response | None], Awaitable[None]],
    give_up: Callable[[Exception], Exception] = lambda error: error,
) -> T:
    """``await attempt()`` until it returns; ``TryAgain`` means wait and try again.

    Any other exception ends the loop at once. After the last attempt, raises
    ``give_up(error)`` for the last ``TryAgain``'s error."""
    last: TryAgain | None = None
    for number in range(max(1, attempts)):
        try:
            return await attempt()
        except TryAgain as failure:
            last = failure
        if number + 1 < attempts:
            await wait(number, last.response)
    assert last is not None
    raise give_up(last.error) from None
