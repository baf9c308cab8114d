"""When to ask for a task's status next: adaptive, not a fixed interval.

A fixed interval is either wasteful (0.5 s: 120 requests for a 60 s task) or slow to
notice (5 s: 2.5 s late on average). Instead: check early (fast failures show fast), then
widen the gaps 2.5 times each, then check densely inside the window where the task is
expected to end (learned from this user's journal), then back off if it runs late. When
the service reports a steady progress figure, its pace predicts the finish better than any
history: sleep until just after that moment, then check at short, widening gaps. Pure
functions of elapsed time, so tests drive them with an injected clock.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..model import spec

# After the predicted finish, the first check lands this late: rounding in the service's
# figure blurs the prediction by about 1 % of the time still to go.
_MARGIN_MIN = 0.2
_MARGIN_SHARE = 0.01
_MARGIN_MAX = 0.5


@dataclass(frozen=True)
class PollPolicy:
    """Bounds of the schedule, in seconds, and the shared status-request rate."""

    first: float = 1.0  # the first check, at the latest
    floor: float = 0.25  # the shortest gap between two checks of one task
    dense: float = 2.0  # the longest gap inside the expected-end window
    cap: float = 20.0  # the longest gap anywhere
    jitter: float = 0.1  # +-10 %: many jobs never poll in lockstep
    max_rate: float = 50.0  # status requests per second, all jobs of a client together
    burst: int = 100


@dataclass(frozen=True)
class Expectation:
    """How long tasks like this one take: the median and the usual range."""

    median: float
    low: float  # most tasks end after this ...
    high: float  # ... and before this
    learned: bool  # from this user's history, or a prior guess

    @classmethod
    def around(cls, seconds: float, fraction: float, learned: bool = False) -> Expectation:
        return cls(seconds, seconds * (1 - fraction), seconds * (1 + fraction), learned)


def prior_seconds(model: str, resolution: str, n: int) -> float:
    """A starting guess of a task's duration before any history exists."""
    known = spec.MODELS.get(model)
    base = known.typical_seconds if known is not None else 20.0
    base *= {"2k": 1.6, "4k": 2.5}.get(resolution, 1.0)
    return base + 3.0 * (max(1, n) - 1)


def expectation(
    durations: Sequence[float | tuple[float, float]], prior: float
) -> Expectation:
    """From past (duration, uncertainty) pairs: the median, and a range from the 10th
    percentile to the slowest, widened by how uncertain each sample is; without history,
    the prior with a wide range.

    A sample is uncertain when its task ended between two far-apart checks (early tasks,
    polled on a prior's guess); once there are a few precise ones, only those count.
    """
    pairs = [(d, 0.0) if isinstance(d, (int, float)) else (float(d[0]), float(d[1]))
             for d in durations[:20]]
    pairs = [(d, u) for d, u in pairs if d > 0]
    precise = [(d, u) for d, u in pairs if u <= max(0.5, 0.1 * d)]
    if len(precise) >= 3:
        pairs = precise
    if len(pairs) < 2:
        return Expectation.around(prior, 0.5)
    median = statistics.median(d for d, _ in pairs)
    lows = sorted(d - u for d, u in pairs)
    low = statistics.quantiles(lows, n=10)[0] if len(lows) >= 4 else lows[0]
    high = max(d + u for d, u in pairs) * 1.02
    return Expectation(median, min(low, median * 0.95), max(high, median * 1.05), learned=True)


class PollSchedule:
    """Gaps between status checks for one task."""

    def __init__(
        self,
        expected: Expectation | float,
        policy: PollPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not isinstance(expected, Expectation):
            expected = Expectation.around(float(expected), 0.1)
        self.policy = policy or PollPolicy()
        median = max(0.05, expected.median)
        self.dense = max(self.policy.floor / 4,
                         min(self.policy.dense, median * 0.025, self.policy.cap))
        self.floor = min(self.policy.floor, self.dense)
        self.window = (max(0.0, expected.low - self.dense / 2), max(expected.high, median))
        self._rng = rng or random.Random()
        self._gap = 0.0
        self._late = 0
        self._past_finish = 0

    def next_delay(self, elapsed: float, hint: float | None = None,
                   finish: float | None = None) -> float:
        """Seconds to wait before the next check, ``elapsed`` seconds after creation.

        ``hint``: the service asked to wait this long. ``finish``: the elapsed time at
        which the service's own progress figure, at its steady pace, reaches 100 %."""
        delay = self._time_based_delay(elapsed, hint)
        if finish is None or self._gap == 0.0 or (hint is not None and hint >= delay):
            self._past_finish = 0
            return delay
        if elapsed < finish:  # just after the predicted finish, but at least every cap
            self._past_finish = 0
            margin = min(_MARGIN_MAX, _MARGIN_MIN + _MARGIN_SHARE * (finish - elapsed))
            return max(self.floor, min(finish + margin - elapsed, self.policy.cap))
        self._past_finish += 1  # not done yet: short gaps, widening, never past the schedule
        return min(delay, max(self.floor, self.floor * 1.5 ** (self._past_finish - 1)))

    def _time_based_delay(self, elapsed: float, hint: float | None) -> float:
        policy = self.policy
        start, end = self.window
        if self._gap == 0.0:  # the first check
            target = min(policy.first, max(start, self.floor))
            self._gap = max(target, self.floor)
            delay = target - elapsed
        elif elapsed < start:  # approaching the window: widening gaps, never past its start
            self._gap = min(self._gap * 2.5, policy.cap)
            delay = min(self._gap, start - elapsed)
            if start - elapsed <= self._gap * 1.5:  # no short hop just before the window
                delay = start - elapsed
        elif elapsed <= end:  # inside the window: dense
            delay = self.dense
        else:  # running late: back off from dense to the cap
            self._late += 1
            delay = min(policy.cap, self.dense * 1.5**self._late)
        if hint is not None and hint > delay:  # the service asked us to wait
            delay = min(hint, policy.cap * 4)
        delay = max(delay, self.floor) * (1 + self._rng.uniform(-policy.jitter, policy.jitter))
        landing = elapsed + delay
        if elapsed < start and start - self.dense < landing < start:
            delay = start - elapsed  # jitter must not leave a short hop before the window
        return delay


class StatusRequestRate:
    """A token bucket shared by every job of a client: many jobs never flood the rate limit."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._tokens = float(self.burst)
        self._clock = clock
        self._last = clock()
        self._lock: asyncio.Lock | None = None

    async def acquire(self) -> None:
        if self.rate <= 0:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # first come, first served
            while True:
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)
