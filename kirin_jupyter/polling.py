"""When to ask for a task's status next: adaptive, not a fixed interval.

Check early (fast failures show fast), then space checks out, and check densely around the
time the task is expected to finish. Pure functions of elapsed time: tests drive them with
an injected clock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from . import spec


@dataclass(frozen=True)
class PollPolicy:
    """Bounds of the schedule, in seconds."""

    first: float = 1.0  # the first check, at the latest
    floor: float = 0.5  # the shortest gap near the expected end
    cap: float = 8.0  # the longest gap
    jitter: float = 0.1  # +-10 %: many jobs never poll in lockstep


def prior_seconds(model: str, resolution: str, n: int) -> float:
    """A starting guess of a task's duration before any history exists."""
    base = 20.0 if model == spec.OMNI else 15.0
    if resolution == "2k":
        base *= 1.6
    return base + 3.0 * (max(1, n) - 1)


class PollSchedule:
    """Gaps between status checks for one task expected to take ``expected`` seconds."""

    def __init__(
        self,
        expected: float,
        policy: PollPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.expected = max(0.05, expected)
        self.policy = policy or PollPolicy()
        self._rng = rng or random.Random()
        self._checks = 0
        # Near the expected end, never check more often than a 20th of the task's length.
        self._floor = max(0.02, min(self.policy.floor, self.expected / 20))

    def next_delay(self, elapsed: float, hint: float | None = None) -> float:
        """Seconds to wait before the next check, ``elapsed`` seconds after creation."""
        policy = self.policy
        if hint is not None and hint > 0:
            delay = min(hint, policy.cap * 4)
        elif self._checks == 0:
            delay = min(policy.first, max(self._floor, self.expected / 4)) - elapsed
        else:
            remaining = self.expected - elapsed
            # Before the expected end: close in; overdue: back off gently.
            delay = remaining * 0.6 if remaining > 0 else -remaining * 0.5
            delay = max(self._floor, min(policy.cap, delay))
        self._checks += 1
        delay = max(self._floor if self._checks > 1 else 0.0, delay)
        return delay * (1 + self._rng.uniform(-policy.jitter, policy.jitter))
