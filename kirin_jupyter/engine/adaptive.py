"""How many of a batch's tasks may be at the service at once, learnt from its answers.

The service's limit is not documented and may change with its load, so a batch starts at a
modest level, doubles per round of accepted creates until the first "no room now"
(HTTP 429, ``Retry-After``, error ``006001094``), then halves and grows again by one per
round (AIMD, as TCP does). A busy answer never fails an item: the item waits for a free
slot, and for the service's ``Retry-After``, and is sent again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

START = 8  # tasks at once before the service has said anything
CEILING = 64  # with no concurrency= given: well under any per-account rate limit we know
_CALM_SECONDS = 2.0  # busy answers within this of a halving are the same crowd


class AdaptiveLimit:
    """A semaphore whose size follows the service. Lives on the engine loop only."""

    def __init__(self, ceiling: int = CEILING, start: int = START, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = float(min(self.ceiling, max(1, start)))
        self.in_flight = 0
        self.busy_signals = 0  # how often the service said "no room now"
        self.lowest = self.limit  # the least it went down to (for the card and tests)
        self.highest = self.limit
        self._slow_start = True  # doubling until the first busy answer
        self._accepted_in_round = 0
        self._clock = clock
        self._paused_until = 0.0
        self._last_cut = float("-inf")
        self._changed: asyncio.Event | None = None

    @property
    def size(self) -> int:
        return max(1, int(self.limit))

    def _event(self) -> asyncio.Event:
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()

    async def acquire(self) -> None:
        """Wait for a free slot, and for the end of any pause the service asked for."""
        while True:
            pause = self._paused_until - self._clock()
            if pause > 0:
                await asyncio.sleep(pause)
                continue
            if self.in_flight < self.size:
                self.in_flight += 1
                return
            event = self._event()
            event.clear()
            await event.wait()

    def hold(self) -> None:
        """Count a task that is at the service already (a resumed one) without waiting."""
        self.in_flight += 1

    def release(self) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        self._wake()

    def accepted(self) -> None:
        """The service took a task: grow, by one per slot (doubling) before the first busy
        answer, by one per round (as many acceptances as the size) after it."""
        if self._slow_start:
            self.limit = min(float(self.ceiling), self.limit + 1)
        else:
            self._accepted_in_round += 1
            if self._accepted_in_round >= self.size:  # a whole round went through
                self._accepted_in_round = 0
                self.limit = min(float(self.ceiling), self.limit + 1)
        self.highest = max(self.highest, self.limit)
        self._wake()

    def busy(self, retry_after: float | None = None) -> None:
        """The service said "no room now": halve (once per crowd of such answers) and
        pause new creates for ``retry_after`` seconds, or one second."""
        self.busy_signals += 1
        now = self._clock()
        self._slow_start = False
        if now - self._last_cut > _CALM_SECONDS:
            self.limit = max(1.0, self.limit / 2)
            self.lowest = min(self.lowest, self.limit)
            self._last_cut = now
        wait = 1.0 if retry_after is None else min(max(retry_after, 0.0), 60.0)
        self._paused_until = max(self._paused_until, now + wait)

    async def wait_after_busy(self, retry_after: float | None) -> None:
        """For a task the service refused as busy: give up its slot, then wait for one."""
        self.busy(retry_after)
        self.release()
        await self.acquire()
