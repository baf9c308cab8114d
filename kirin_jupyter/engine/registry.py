"""One list of a session's jobs: the job list, ``wait``, the panel's totals and the budget
all read it, so they can never disagree about what ran or what it cost."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .job import Job


class JobRegistry:
    """Jobs in the order they started; safe to use from any thread."""

    def __init__(self) -> None:
        self._jobs: list[Job] = []
        self._ended: set[int] = set()  # id() of the jobs whose end was announced
        self._subscribers: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def add(self, job: Job) -> None:
        with self._lock:
            if job in self._jobs:
                return
            self._jobs.append(job)
        job.add_listener(self._job_changed)

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever a job ends (from the engine thread): the panel's
        totals follow jobs started anywhere in the session."""
        with self._lock:
            self._subscribers.append(callback)

    def _job_changed(self, job: Job) -> None:
        if job.status not in ("completed", "failed"):
            return
        with self._lock:
            if id(job) in self._ended:
                return
            self._ended.add(id(job))
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback()
            except Exception:  # a broken display must never break the job
                logging.getLogger("kirin_jupyter").exception("job list subscriber failed")

    def all(self) -> list[Job]:
        with self._lock:
            return list(self._jobs)

    def latest_per_task(self) -> list[Job]:
        """One job per external id, the newest: resuming a timed-out job makes a second
        Job for the same task, which must not be counted twice."""
        latest: dict[str, Job] = {}
        for job in self.all():
            latest[job.external_task_id] = job
        return list(latest.values())

    def spend(self) -> Decimal:
        """What the finished jobs cost, as the service reported it."""
        return sum((j.cost for j in self.latest_per_task() if j.cost is not None),
                   Decimal(0))

    def unfinished(self) -> list[Job]:
        return [job for job in self.all() if not job.done()]
