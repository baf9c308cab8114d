"""Cancel a job: at the service where its protocol can (the queue), else stop following.

On the queue protocol ``PUT …/cancel`` answers 202 (cancelled: the job ends as
``Cancelled``, nothing is downloaded), 400 ``ALREADY_COMPLETED`` (the result is fetched as
usual) or 404 (gone). The generation protocol has no cancel: the job stops being followed
and stays resumable, and the service finishes (and bills) the task. Either way the budget
counts the task at its quote until the service says otherwise (``money/budget.py``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ..errors import Cancelled
from ..service.queue import QueueHTTP
from .dialect import QUEUE, RunContext

if TYPE_CHECKING:
    from .job import Job

log = logging.getLogger("kirin_jupyter")

NO_SERVICE_CANCEL = "stop following; the service finishes and bills it"


def generation_words(task_id: str | None) -> str:
    """The one line said when a generation-protocol job is cancelled."""
    return (f"the generation protocol has no cancel: {NO_SERVICE_CANCEL} (task "
            f"{task_id or 'not yet assigned'}; %kirin resume fetches it later)")


async def cancel_job(job: Job, ctx: RunContext) -> str:
    """Cancel ``job`` (on the engine loop); one line saying what happened."""
    if job.done():
        return f"job {job.external_task_id} has already ended ({job.status})"
    task_id = job.task_id
    if task_id is None:  # not created yet, or its create is on the wire: decided after it
        job._cancel_requested = True
        return (f"job {job.external_task_id}: cancel requested; it is sent nothing more, or "
                "cancelled as soon as its create is answered")
    if job.protocol != QUEUE:
        words = generation_words(task_id)
        job._stop(Cancelled(words, task_id=task_id), "interrupted")
        return words
    sent = job._cancel_sent = asyncio.Event()
    try:
        outcome = await QueueHTTP(ctx.api).cancel(task_id, job.request.model.name)
    finally:
        sent.set()
    log.info("job %s: cancel of request %s: %s", job.external_task_id, task_id, outcome)
    if outcome == "cancelled":
        job._stop(Cancelled(f"task {task_id} cancelled: the service took the cancel "
                            "(202); nothing was downloaded", task_id=task_id,
                            by_service=True), "cancelled")
        return f"task {task_id} cancelled by the service (202)"
    if outcome == "completed":
        return f"task {task_id} had already completed (400 ALREADY_COMPLETED); fetching its result"
    job._stop(Cancelled(f"task {task_id} is gone: the service no longer knows it (404); "
                        "nothing to fetch", task_id=task_id, by_service=True), "failed")
    return f"task {task_id} is gone (404): nothing to cancel or fetch"
