"""Following a task by its stream (``service/task_stream.py``) where the host offers one:
one open request, and the end is known the moment the service sends it.

Tried once per host: a 404, 405 or 501 is kept in the journal's host facts (``task_stream
= no``), and every later job there polls at once; a stream that delivered is kept as
``yes``. A dropped connection resumes from the last cursor (a few times); a stream that
stays silent, breaks a bound or sends what cannot be read hands the job to the adaptive
poller, which picks up where the stream left off. The card's progress comes from the
stream's frames.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Protocol

import httpx

from ..errors import LimitExceeded
from ..service.responses import TaskSnapshot, parse_task
from ..service.task_stream import StreamEvent, StreamRefused, StreamStopped, events
from ..storage.host_facts import NO, YES
from ..storage.journal_writer import write_or_log as _journal

if TYPE_CHECKING:
    from ..service.http import GatewayHTTP
    from ..storage.journal import Journal
    from .job import Job


class RunContext(Protocol):
    """What this needs of the runner's context (``runner.RunContext`` has it)."""

    api: GatewayHTTP
    journal: Journal
    timeout: float
    stream_silence: float

log = logging.getLogger("kirin_jupyter")

STREAM_FACT = "task_stream"
RESUMES = 5  # connections that end without the task's end: each resumes from its cursor


async def follow_by_stream(job: Job, ctx: RunContext, task_id: str, *, learn: bool
                           ) -> TaskSnapshot | None:
    """The task's final answer, read from its stream; None when it is to be polled
    (no stream on this host, all stream slots busy, or the stream gave up)."""
    api = ctx.api
    if api.facts.get(STREAM_FACT) == NO or api.stream_slots.locked():
        return None
    started = time.monotonic()
    async with api.stream_slots:
        try:
            final = await asyncio.wait_for(_read(job, ctx, task_id), ctx.timeout)
        except asyncio.TimeoutError:
            return None  # the poller says it timed out, with its usual message
    if final is not None and learn and final.status == "completed":
        request = job.request
        await _journal(ctx.journal.record_duration, request.model.name, request.resolution,
                       request.images_expected, time.monotonic() - started, 0.0)
    return final


async def _read(job: Job, ctx: RunContext, task_id: str) -> TaskSnapshot | None:
    api = ctx.api
    cursor, delivered = 0, False
    for _attempt in range(1 + RESUMES):
        try:
            async for event in events(api, task_id, cursor=cursor, silence=ctx.stream_silence):
                if not delivered:
                    delivered = True
                    await asyncio.to_thread(api.facts.learn, STREAM_FACT, YES)
                cursor = event.cursor if event.cursor is not None else cursor
                if event.name == "output":
                    await _progress(job, ctx, event)
                elif event.name == "done":
                    return _final(event, job)
                else:  # "error": the delivery failed; the task itself may still run
                    log.info("job %s: the task stream ended with an error; polling instead",
                             job.external_task_id)
                    return None
        except StreamRefused as refused:
            log.info("no task stream on %s (%s): polling", api.endpoint.base_url, refused)
            await asyncio.to_thread(api.facts.learn, STREAM_FACT, NO)  # it logs its own errors
            return None
        except (StreamStopped, LimitExceeded) as stopped:
            log.info("job %s: task stream given up (%s); polling instead",
                     job.external_task_id, api.redact(str(stopped)))
            return None
        except httpx.TransportError:
            pass  # the connection ended: resume from the cursor
        log.info("job %s: task stream dropped at cursor %d; resuming", job.external_task_id,
                 cursor)
    return None


async def _progress(job: Job, ctx: RunContext, event: StreamEvent) -> None:
    progress = event.data.get("progress")
    if isinstance(progress, (int, float)) and not isinstance(progress, bool) \
            and 0 <= progress <= 1:
        job.server_progress = float(progress)
        job.progress_trend.add(time.monotonic(), float(progress))
    if job.status in ("submitting", "queued"):
        await _journal(ctx.journal.record_state, job.external_task_id, "running")
        job._set_status("running")


def _final(event: StreamEvent, job: Job) -> TaskSnapshot | None:
    """The ``done`` event's task, when it is final; else None (a status request tells)."""
    if not event.data:
        return None  # "data: [DONE]" carries no task
    try:
        final = parse_task(event.data)
    except (ValueError, ArithmeticError):
        log.info("job %s: the stream's last event is not a task; polling instead",
                 job.external_task_id)
        return None
    return final if final.status in ("completed", "failed") else None
