"""The poll schedule with a fake clock: few requests, results seen fast; the status request rate."""

from __future__ import annotations

import asyncio
import random
import time

from kirin_jupyter.engine.polling import (
    Expectation,
    PollPolicy,
    PollSchedule,
    StatusRequestRate,
    expectation,
    prior_seconds,
)


def simulate(expected: Expectation | float, actual: float,
             policy: PollPolicy | None = None, seed: int = 1) -> tuple[int, float]:
    """Poll (with a fake clock) a task that completes at ``actual`` s: (requests, latency)."""
    schedule = PollSchedule(expected, policy, rng=random.Random(seed))
    now, requests = 0.0, 0
    while True:
        now += schedule.next_delay(now)
        requests += 1
        if now >= actual:
            return requests, now - actual


def learned(median: float, spread_fraction: float = 0.1) -> Expectation:
    rng = random.Random(7)
    history = [median * (1 + rng.uniform(-spread_fraction, spread_fraction)) for _ in range(20)]
    return expectation(history, prior=999)


def test_a_60s_task_takes_at_most_12_requests_and_is_seen_within_1s() -> None:
    """The issue's target, on a history of tasks that took 60 s +-10 %."""
    exp = learned(60)
    assert exp.learned and 57 < exp.median < 63
    runs = [simulate(exp, 60.0, seed=seed) for seed in range(100)]  # jitter varies
    assert max(r for r, _ in runs) <= 12
    assert sum(lat for _, lat in runs) / len(runs) <= 1.0


def test_tasks_spread_like_their_history_are_still_cheap_and_seen_fast() -> None:
    exp = learned(60)
    rng = random.Random(3)
    runs = [simulate(exp, 60 * (1 + rng.uniform(-0.1, 0.1)), seed=i) for i in range(300)]
    assert sum(r for r, _ in runs) / len(runs) <= 12
    assert max(r for r, _ in runs) <= 15
    assert sum(lat for _, lat in runs) / len(runs) <= 1.0


def test_first_check_is_early_for_fast_failures() -> None:
    schedule = PollSchedule(learned(60), rng=random.Random(0))
    assert schedule.next_delay(0.0) <= 1.1


def test_a_late_task_backs_off_to_the_cap() -> None:
    requests, latency = simulate(learned(20), 200)
    assert latency <= PollPolicy().cap * 1.1
    assert requests < 200 / 5  # fewer than a fixed 5-second poller, itself slow to notice


def test_server_hint_is_honoured() -> None:
    schedule = PollSchedule(learned(60), rng=random.Random(0))
    schedule.next_delay(0.0)
    assert schedule.next_delay(1.0, hint=30.0) >= 27.0


def test_uncertain_samples_widen_the_window_until_precise_ones_exist() -> None:
    """Early tasks end between far-apart checks: +- half the last gap."""
    rough = expectation([(60.0, 8.0), (58.0, 9.0), (62.0, 7.0)], prior=20)
    assert rough.low <= 50 and rough.high >= 69
    mixed = expectation([(60.0, 0.7), (58.5, 0.7), (61.0, 0.7), (40.0, 15.0)], prior=20)
    assert mixed.median == 60.0 and mixed.low > 56  # the rough one no longer counts


def test_expectation_without_history_is_the_prior_widened() -> None:
    exp = expectation([], prior=20.0)
    assert (exp.median, exp.low, exp.high, exp.learned) == (20.0, 10.0, 30.0, False)
    assert prior_seconds("kirin_image_omni", "2k", 4) > prior_seconds("kirin_image_omni", "1k", 1)


def test_request_budget_limits_the_rate() -> None:
    async def take(count: int) -> float:
        budget = StatusRequestRate(rate=200, burst=5)
        started = time.monotonic()
        await asyncio.gather(*(budget.acquire() for _ in range(count)))
        return time.monotonic() - started

    assert asyncio.run(take(45)) >= (45 - 5) / 200 * 0.9
