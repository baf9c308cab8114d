"""The service's progress figure predicts the finish: fewer checks, earlier detection."""

from __future__ import annotations

import random

from kirin_jupyter.engine.job import Job
from kirin_jupyter.engine.polling import Expectation, PollSchedule
from kirin_jupyter.engine.progress_trend import ProgressTrend
from kirin_jupyter.model.request import build_request


def reported(at: float, duration: float) -> float | None:
    """What the simulator (and a gateway) reports: queued first, then a figure in 1 % steps."""
    if at < duration * 0.15:
        return None
    return min(0.99, round(at / duration, 2))


def test_a_steady_figure_rounded_to_one_percent_predicts_the_finish() -> None:
    trend = ProgressTrend()
    for at in (10.0, 25.0, 45.0):
        figure = reported(at, 60.0)
        assert figure is not None
        trend.add(at, figure)
    finish = trend.finish_at()
    assert finish is not None and abs(finish - 60.0) < 0.5


def test_no_prediction_from_one_reading_a_stalled_figure_or_a_burst() -> None:
    trend = ProgressTrend()
    trend.add(5.0, 0.2)
    assert trend.finish_at() is None  # one reading: no pace
    trend.add(10.0, 0.4)
    assert trend.finish_at() is not None
    trend.add(20.0, 0.41)  # ten seconds, one step: the pace has stalled
    assert trend.finish_at() is None
    burst = ProgressTrend()
    for at, figure in ((5.0, 0.1), (10.0, 0.2), (11.0, 0.9)):  # 0.7 in one second
        burst.add(at, figure)
    assert burst.finish_at() is None


def test_a_figure_going_backwards_starts_the_trend_over() -> None:
    trend = ProgressTrend()
    for at, figure in ((1.0, 0.5), (2.0, 0.6), (3.0, 0.1)):
        trend.add(at, figure)
    assert trend.points == [(3.0, 0.1)] and trend.finish_at() is None
    trend.add(4.0, float("nan"))  # not a figure at all: ignored
    assert trend.points == [(3.0, 0.1)]


def test_the_bar_moves_between_reads_but_never_runs_far_ahead() -> None:
    now = [0.0]
    job = Job(build_request("a fox"), expected=Expectation.around(60, 0.1), simulated=False,
              clock=lambda: now[0])
    job._set_status("running")
    for at, figure in ((10.0, 0.2), (20.0, 0.4)):
        job.server_progress = figure
        job.progress_trend.add(at, figure)
    now[0] = 20.0
    assert job.progress == 0.4
    now[0] = 25.0
    assert abs(job.progress - 0.5) < 0.01  # half-way to the next read, at the same pace
    now[0] = 500.0  # no answer for a long time: at most half of what is left
    assert job.progress <= 0.7 + 1e-9


def _poll(duration: float, use_progress: bool, seed: int) -> tuple[int, float]:
    """Drive the schedule against a task reporting ``reported``: (checks, detection lag)."""
    schedule = PollSchedule(Expectation.around(duration, 0.1, learned=True),
                            rng=random.Random(seed))
    trend = ProgressTrend()
    at, checks = 0.0, 0
    while True:
        finish = trend.finish_at() if use_progress else None
        at += schedule.next_delay(at, None, finish)
        checks += 1
        if at >= duration:
            return checks, at - duration
        figure = reported(at, duration)
        if figure is not None:
            trend.add(at, figure)


def test_a_predicted_finish_saves_checks_and_detects_sooner() -> None:
    """The standing goal's scenario, on a simulated clock: 60 s tasks, +-10 % around what
    history expects, the service reporting 1 % steps (the benchmark measures the real run)."""
    rng = random.Random(7)
    with_trend, without = [], []
    for seed in range(40):
        duration = 60.0 * rng.uniform(0.9, 1.1)
        with_trend.append(_poll(duration, True, seed))
        without.append(_poll(duration, False, seed))
    mean = lambda values: sum(values) / len(values)  # noqa: E731
    assert mean([c for c, _ in with_trend]) < mean([c for c, _ in without]) - 1
    assert mean([lag for _, lag in with_trend]) < mean([lag for _, lag in without])
    assert max(lag for _, lag in with_trend) < 1.0


def test_without_a_figure_the_schedule_is_unchanged() -> None:
    first = PollSchedule(Expectation.around(20, 0.1), rng=random.Random(1))
    second = PollSchedule(Expectation.around(20, 0.1), rng=random.Random(1))
    at = 0.0
    for _ in range(12):
        gap = first.next_delay(at, None, None)
        assert gap == second.next_delay(at)
        at += gap
