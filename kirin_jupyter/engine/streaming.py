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
import sqlite3
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import httpx

from ..errors import LimitExceeded
from ..service.responses import TaskSnapshot, parse_task
from ..service.task_stream import StreamEvent, StreamRefused, StreamStopped, events
from ..storage.host_facts import NO, YES
from ..storage.journal_writer import writer_for

if TYPE_CHECKING:
    from ..service.http import GatewayHTTP
    from ..storage.journal import Journal
    from .job import Job


class RunContext(Protocol):
    """What this needs of the runner's context (``runner.RunContext`` has it)."""

    api: GatewayHTTP
    journal: Journal
    timeout: float
    stream: bool
    stream_silence: float

log = logging.getLogger("kirin_jupyter")

STREAM_FACT = "task_stream"
RESUMES = 5  # connections that end without the task's end: each resumes from its cursor


async def follow_by_stream(job: Job, ctx: RunContext, task_id: str, *, learn: bool
                           ) -> TaskSnapshot | None:
    """The task's final answer, read from its stream; None when it is to be polled
    (no stream on this host, all stream slots busy, or the stream gave up)."""
    api = ctx.api
    if not ctx.stream or api.facts.get(STREAM_FACT) == NO or api.stream_slots.locked():
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
                    await _in_thread(api.facts.learn, STREAM_FACT, YES)
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
            await _in_thread(api.facts.learn, STREAM_FACT, NO)
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


async def _journal(fn: Callable[..., None], *args: object) -> None:
    """A journal write through the same grouped writer as the runner's (so a job's states
    land in the order they happened); a failing journal never fails the job."""
    try:
        await writer_for(fn.__self__).write(fn, *args)  # type: ignore[attr-defined]
    except sqlite3.Error as exc:
        log.warning("journal write %s failed: %s", getattr(fn, "__name__", fn), exc)


async def _in_thread(fn: Callable[..., object], *args: object) -> None:
    """A journal write off the loop (it may wait on the file's lock); never a failure."""
    try:
        await asyncio.to_thread(fn, *args)
    except Exception as exc:  # the journal is a help here: never break the job
        log.info("journal write skipped (%s)", exc)
