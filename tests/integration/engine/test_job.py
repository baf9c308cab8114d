"""A job's listeners: a broken one never breaks the job or the others."""

from __future__ import annotations

import pytest

from kirin_jupyter.client import Client
from kirin_jupyter.engine.job import Job


def test_a_broken_listener_never_breaks_the_job_or_the_other_listeners(
        http_client: Client) -> None:
    seen: list[str] = []

    def broken(job: Job) -> None:
        raise RuntimeError("a display that fails")

    job = http_client.generate("a fox")
    with pytest.raises(RuntimeError):  # called once at once: its own caller sees it
        job.add_listener(broken)  # ... and it is kept, so later changes call it again
    job.add_listener(lambda j: seen.append(j.status))
    result = job.wait(30)
    assert result.paths and seen[-1] == "completed"
