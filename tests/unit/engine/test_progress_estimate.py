"""The bar's estimate when the service sends no progress: honest while queued, moving when late."""

from __future__ import annotations

from kirin_jupyter.display.static import live_status
from kirin_jupyter.engine.estimate import QUEUED_CAP, estimated_progress
from kirin_jupyter.engine.job import Job
from kirin_jupyter.engine.polling import Expectation
from kirin_jupyter.model.request import build_request


def test_a_queued_task_never_shows_a_mostly_full_bar() -> None:
    for seconds in (0.5, 3.5, 30, 300):
        assert estimated_progress(seconds, None, expected=3.5) <= QUEUED_CAP


def test_a_task_running_long_past_its_expected_time_keeps_moving() -> None:
    """The case from the issue: 3.5 s learned, the task takes 30 s."""
    at = [estimated_progress(0.0, t, expected=3.5) for t in (3.5, 7, 15, 30, 60)]
    assert at == sorted(at) and at[-1] < 0.99
    assert at[3] < 0.96  # not sitting at 96 % for most of its life
    assert at[3] - at[2] >= 0.02 and at[4] - at[3] >= 0.015  # still visibly moving


def test_the_estimate_is_continuous_and_reaches_80_percent_when_expected() -> None:
    assert abs(estimated_progress(0.0, 3.5, 3.5) - 0.8) < 1e-9
    before, after = estimated_progress(0.0, 3.4999, 3.5), estimated_progress(0.0, 3.5001, 3.5)
    assert abs(after - before) < 1e-3
    queued = estimated_progress(2.0, None, 3.5)  # the queue's share carries into running
    assert estimated_progress(2.0, 0.0, 3.5) == queued


def test_the_job_uses_the_estimate_only_until_the_service_reports() -> None:
    now = [0.0]
    job = Job(build_request("a fox"), expected=Expectation.around(3.5, 0.1), simulated=False,
              clock=lambda: now[0])
    job._set_status("queued")
    now[0] = 30.0
    assert job.progress <= QUEUED_CAP and "~" in live_status(job)
    job._set_status("running")
    now[0] = 60.0
    assert 0.8 < job.progress < 0.96 and "(estimated)" in live_status(job)
    job.server_progress = 0.4  # the service's own figure wins, with no "estimated"
    assert job.progress == 0.4 and "40 %" in live_status(job)
    assert "estimated" not in live_status(job)
