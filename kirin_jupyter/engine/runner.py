"""The life of one job on the engine loop: journal, create, poll, download, finish."""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import (
    APIError,
    Cancelled,
    KirinError,
    NeverCreated,
    OutcomeUnknown,
    RateLimited,
    ResultExpired,
    ServiceBusy,
    ServiceUnavailable,
    SubmitRefused,
    TaskFailed,
    TaskTimeout,
    ValidationError,
)
from ..model.quote import Quote
from ..model.request import GenerationRequest
from ..service.dialects import Protocols
from ..service.http import GatewayHTTP, documented_error, one_line
from ..service.responses import TaskSnapshot
from ..service.uploads import Uploads, refused_with_upload
from ..storage.journal import Journal, result_path
from ..storage.journal_writer import write, write_or_log
from ..storage.result_files import check_result
from ..storage.shared_results import publish
from . import dialect
from .adaptive import AdaptiveLimit
from .cancelling import cancel_job
from .job import Job, JobStatus, Result
from .polling import PollPolicy, PollSchedule, StatusRequestRate
from .streaming import follow_by_stream
from .ticker import start_ticking, stop_ticking

if TYPE_CHECKING:
    from ..model.provenance_record import JobStamp, Stamped

log = logging.getLogger("kirin_jupyter")

_CONTENT_SUFFIXES = {"image": ".png", "video": ".mp4"}
_YOUNG_TASK_SECONDS = 10.0  # a 404 this soon after creation means "not listed yet"


@dataclass
class RunContext:
    """What every job of one Client shares."""

    api: GatewayHTTP
    journal: Journal
    output_dir: Path
    policy: PollPolicy
    timeout: float
    status_rate: StatusRequestRate | None = None  # status requests of all jobs share it
    quote: Callable[[GenerationRequest], Awaitable[Quote]] | None = None  # price a job
    gate: AdaptiveLimit | None = None  # a batch's concurrency: busy answers wait in it
    stream_silence: float = 30.0  # seconds a stream may send nothing before it is given up
    uploads: Uploads | None = None  # references uploaded once (upload_references)
    protocols: Protocols = field(default_factory=Protocols)  # generation, queue or auto
    provenance: str = "full"  # what saved files carry: full, minimal or off
    # the shared storage URL output_dir mirrors (output_dir = "s3://..."), as the user set
    # it: results are stored there once stamped; None: output_dir is an ordinary folder
    output_url: str | None = None
    # a team budget's reservation, made before the create (money/team_budget.py); raises
    # BudgetExceeded to send nothing
    reserve: Callable[[Job], Awaitable[None]] | None = None


async def run_job(job: Job, ctx: RunContext, *, resume: bool = False) -> None:
    """Drive ``job`` to completed or failed; never raises (the job carries the error).

    ``resume``: the job was created by an earlier process; pick up its task (or find out
    that it was never created) instead of creating one.
    """
    start_ticking(job)
    job._runner_task = asyncio.current_task()
    job._loop = loop = asyncio.get_running_loop()
    job._canceller = lambda: asyncio.run_coroutine_threadsafe(cancel_job(job, ctx), loop)
    try:
        result = await _drive(job, ctx, resume=resume)
    except (Exception, asyncio.CancelledError) as raised:
        exc: BaseException = raised
        if job._stop_reason is not None:  # cancelled: the reason, not the CancelledError
            exc = job._stop_reason
            _uncancel()
        error = exc if isinstance(exc, KirinError) else KirinError(
            f"job stopped: {exc.__class__.__name__}: {ctx.api.redact(one_line(str(exc)))}"
        )
        if not isinstance(exc, KirinError):
            log.debug("job %s stopped unexpectedly", job.external_task_id, exc_info=True)
        state = _journal_state(error, job)
        log.info("job %s %s: %s", job.external_task_id, state, error)
        try:
            await _journal(ctx.journal.record_state, job.external_task_id, state,
                           detail=str(error))
        finally:
            job._fail(error)  # settled even if the journal cannot be written
    else:
        log.info("job %s completed: %d files", job.external_task_id, len(result.paths))
        job._finish(result)
    finally:
        stop_ticking(job)
        if not job.done():  # never leave a waiter hanging, whatever went wrong above
            job._fail(KirinError("job stopped unexpectedly; see KIRIN_HOME/kirin.log"))


def _uncancel() -> None:
    """Take back the cancel that stopped a cancelled job, so the journal write after it
    (and any timeout in it) is not taken for one more cancel."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)  # Python 3.11 on; 3.10 keeps no count
    if cancelling is not None and cancelling():
        task.uncancel()  # type: ignore[union-attr]


def _journal_state(error: BaseException, job: Job) -> str:
    """'failed' only when the outcome is settled; otherwise a state that resume picks up.

    A task may still be running (or done, and paid for) after a timeout, a network failure
    or an expired download: those stay resumable.
    """
    if isinstance(error, NeverCreated):
        return "not_created"
    if isinstance(error, Cancelled):
        return job._stop_state if job.task_id else "failed"  # nothing sent: nothing to resume
    if isinstance(error, OutcomeUnknown):
        return "interrupted"  # a task may exist: resume looks it up by external id
    if isinstance(error, TaskFailed):
        return "failed"
    if isinstance(error, SubmitRefused) and job.task_id is None:
        return "failed"  # a 2xx "no" with no task: nothing to resume
    if isinstance(error, TaskTimeout):
        return "timeout"
    rejected = isinstance(error, APIError) and error.status_code is not None \
        and 400 <= error.status_code < 500 and error.status_code != 429
    if job.task_id is None and (rejected or not isinstance(error, APIError)):
        return "failed"  # the service refused the create (or we never sent it)
    return "interrupted"


_journal = write_or_log  # a journal write off the loop; a failure is logged (journal_writer)
_write = write  # the same, whose failure the caller handles


async def _journal_strict(ctx: RunContext, fn: Callable[..., None], *args: object) -> None:
    """The write before the create request: if it fails, nothing is sent."""
    try:
        await _write(fn, *args, durable=True)
    except (sqlite3.Error, OSError) as exc:
        raise KirinError(
            f"the journal {ctx.journal.where} cannot be written ({exc}); nothing was sent. "
            "Free some space, or set KIRIN_HOME to a writable folder, and try again"
        ) from None


_pricing_tasks: set[asyncio.Task[None]] = set()  # held until done (the loop keeps weak refs)


async def _price(job: Job, quote: Callable[[GenerationRequest], Awaitable[Quote]]) -> None:
    """Ask what the job will cost, for its card; a failure here never touches the job."""
    try:
        job.quote = await quote(job.request)
    except Exception:
        log.debug("pricing job %s failed", job.external_task_id, exc_info=True)
        return
    job._notify()


async def _reattach(job: Job, ctx: RunContext) -> TaskSnapshot:
    """The task of a job from an earlier process: by task id, else by external id.

    "Not found" by external id settles the job as never created only on a host where that
    lookup has been seen to find a task (``HostFacts.lookup_proven``); elsewhere a 404
    proves nothing (the create may have made a task whose answer was lost), so the job
    stays unsettled: resumable, and counted by the budget as possibly billed."""
    snapshot: TaskSnapshot | None
    if job.task_id:
        snapshot = await dialect.query(job, ctx, job.task_id)
    else:
        snapshot = await dialect.find(job, ctx)
        if snapshot is None and job.protocol == dialect.QUEUE:
            raise OutcomeUnknown(
                f"the queue submit of {job.external_task_id} got no readable answer, and "
                "the queue protocol has no lookup by external id, so whether it was "
                "created is not known (it may be billed): check the account's task list")
        if snapshot is None and not await asyncio.to_thread(ctx.api.facts.proven_since):
            raise OutcomeUnknown(
                f"the service lists no task for external id {job.external_task_id}, but its "
                "lookup by external id has not been seen to find a task on this host, so it "
                "cannot tell whether the task was created (it may be billed): check the "
                "account's task list; %kirin resume asks again")
        if snapshot is None:
            raise NeverCreated(  # a proven lookup's answer; never a claim about billing
                f"the service lists no task for external id {job.external_task_id}, so there "
                "is nothing to follow; the create most likely never reached it (if you "
                "generate again, check the account's task list first)"
            )
    assert snapshot is not None
    return snapshot


def _status_of(snapshot: TaskSnapshot) -> JobStatus:
    return "queued" if snapshot.status == "queued" else "running"


async def _drive(job: Job, ctx: RunContext, *, resume: bool) -> Result:
    request = job.request
    if job._cancel_requested and job.task_id is None and not resume:
        raise Cancelled(f"job {job.external_task_id} cancelled before anything was sent")
    if resume:
        row = await asyncio.to_thread(ctx.journal.get, job.external_task_id)
        if row is not None and row.get("protocol") == dialect.QUEUE:
            job.protocol = dialect.QUEUE  # a queued request is followed on the queue
        snapshot = await _reattach(job, ctx)
    else:
        if ctx.uploads is not None:  # before the journal: its summary names the uploads
            job.request = request = await ctx.uploads.prepare(request)
        if ctx.reserve is not None:  # no create without its reservation
            await ctx.reserve(job)
        await _journal_strict(
            ctx, ctx.journal.record_submit, request.external_task_id, request.model.name,
            request.prompt, request.summary(), ctx.api.endpoint.base_url,
            ctx.output_url or ctx.output_dir.resolve(), request.parents,
        )
        job._set_status("submitting")
        if job.quote is None and ctx.quote is not None:  # priced while the task is created
            pricing = asyncio.create_task(_price(job, ctx.quote))
            _pricing_tasks.add(pricing)
            pricing.add_done_callback(_pricing_tasks.discard)
        snapshot = await _create_with_uploads(job, ctx)
        request = job.request
    task_id = snapshot.task_id or job.task_id or request.external_task_id
    if not resume or job.task_id is None:
        log.info("job %s: task %s", request.external_task_id, task_id)
        await _journal(ctx.journal.record_state, request.external_task_id, "created",
                       task_id=task_id)
    job._set_status(_status_of(snapshot), task_id=task_id)
    if job._cancel_requested:  # asked while the create was on the wire
        log.info("job %s: %s", request.external_task_id, await cancel_job(job, ctx))
        await asyncio.sleep(0)  # a cancel that stopped the job ends it here
    final = None
    if snapshot.status not in ("completed", "failed") and job.protocol != dialect.QUEUE:
        final = await follow_by_stream(job, ctx, task_id, learn=not resume)
    snapshot = final or await _poll_until_final(job, ctx, task_id, snapshot,
                                                learn=not resume)
    seen_complete = time.time()  # the record's finished_at (provenance_record.JobStamp)
    if snapshot.status == "failed" and job._cancel_sent is not None:
        await job._cancel_sent.wait()  # a status polled while our cancel was on the wire:
        await asyncio.sleep(0)  # a cancel the service took ends the job (Cancelled) here
    if snapshot.status == "failed":
        raise TaskFailed(
            _failure_text(snapshot, task_id, ctx.api),
            code=snapshot.error_code,
            task_id=task_id,
        )
    await _journal(ctx.journal.record_urls, request.external_task_id,
                   None if snapshot.cost is None else str(snapshot.cost),
                   [item.url for item in snapshot.items])
    job._set_status("downloading")
    await _journal(ctx.journal.record_state, request.external_task_id, "downloading")
    snapshot = _at_most_asked(snapshot, request, job.external_task_id)
    stamp = await _job_stamp(ctx, job, task_id, snapshot, seen_complete)
    paths, snapshot = await _download_all(ctx, task_id, snapshot, job)
    finished_at = time.time()
    stamped = await _stamp(ctx, job, stamp, snapshot, paths)
    stored = await _share(ctx, job, paths)  # after the record is in the files
    kept = stored or [str(path.resolve()) for path in paths]  # what the journal names
    result = Result(
        task_id=task_id,
        external_task_id=request.external_task_id,
        model=request.model.name,
        prompt=request.prompt,
        paths=paths,
        urls=[item.url for item in snapshot.items],
        types=[item.type for item in snapshot.items],
        cost=snapshot.cost,
        simulated=job.simulated,
        metadata=snapshot.metadata,
        finished_at=finished_at,
        options=dict(request.options),
        provenance=job.provenance or ctx.provenance,
        signed=sorted({item.signed for item in stamped if item.signed}),
        stored=stored,
        journal=ctx.journal,
    )
    await _journal(  # absolute: resume from another folder must find them
        ctx.journal.record_result, request.external_task_id,
        None if result.cost is None else str(result.cost), result.urls, kept,
    )
    if stamped:  # the full record of each file, whatever the file carries
        await _journal(ctx.journal.record_files, request.external_task_id, [
            {"path": kept[index], "image": index + 1,
             "provenance": stamp.level if stamp and item.where != "none" else "off",
             "stored_in": item.where, "c2pa": item.signed, "record": item.record}
            for index, item in enumerate(stamped)])
    return result


async def _job_stamp(ctx: RunContext, job: Job, task_id: str, snapshot: TaskSnapshot,
                     seen_complete: float) -> JobStamp | None:
    """The facts of the job's records, before the downloads (the record dates the task,
    not its download). A failure is logged and never fails the job."""
    from ..model.provenance_record import job_stamp, service_name

    try:
        return await asyncio.to_thread(  # a journal read: off the loop
            job_stamp, ctx.journal, job.request, task_id=task_id, cost=snapshot.cost,
            finished_at=seen_complete, simulated=job.simulated,
            service=service_name(ctx.api.endpoint.base_url, job.simulated),
            level=job.provenance or ctx.provenance)
    except Exception as exc:
        log.warning("job %s: no provenance written: %s", job.external_task_id, exc)
        return None


async def _stamp(ctx: RunContext, job: Job, stamp: JobStamp | None, snapshot: TaskSnapshot,
                 paths: list[Path]) -> list[Stamped]:
    """The generation record spliced into every saved image once its download is done
    (or beside a signed one), off the loop (file I/O); a failure is logged and never fails
    a job whose files are on disk."""
    from ..model.provenance_record import stamp_files

    if stamp is None:
        return []
    try:
        return await asyncio.to_thread(stamp_files, stamp, paths,
                                       [item.type for item in snapshot.items])
    except Exception as exc:
        log.warning("job %s: no provenance written: %s", job.external_task_id, exc)
        return []


async def _share(ctx: RunContext, job: Job, paths: list[Path]) -> list[str]:
    """The URLs the files were stored at when ``output_dir`` is shared storage (off the
    loop); none otherwise, or when the upload failed: the files stay local, said in one
    logged line, and the next resume stores them."""
    if ctx.output_url is None:
        return []
    base, root = ctx.output_url.rstrip("/"), ctx.output_dir.resolve()
    try:
        return await asyncio.to_thread(lambda: [
            publish(path, f"{base}/{path.resolve().relative_to(root).as_posix()}")
            for path in paths])
    except (OSError, ValidationError) as exc:
        log.warning("job %s: results kept on this machine only: %s",
                    job.external_task_id, exc)
        return []


async def _create_by(deadline: float, job: Job, ctx: RunContext, **kw: Any) -> TaskSnapshot:
    """One create (with its lookups), ended by the job's deadline: a service that takes
    the request and never answers (a tarpit) held a ``timeout=3`` job for 20 s and more."""
    try:
        return await asyncio.wait_for(
            dialect.create(job, ctx, functools.partial(
                _journal_strict, ctx, ctx.journal.record_protocol, job.external_task_id,
                dialect.QUEUE), **kw),
            max(0.05, deadline - time.monotonic()))
    except asyncio.TimeoutError:
        raise OutcomeUnknown(
            f"no answer to the create within the job's timeout ({ctx.timeout:g} s); the "
            "task may exist: %kirin resume (or kirin_jupyter.resume()) looks it up by its "
            "external id") from None


async def _create(job: Job, ctx: RunContext) -> TaskSnapshot:
    """The create. In a batch, "no room now" (429, ``006001094``) never fails the item:
    it gives up its slot, waits for the service's pause and a free slot, and is sent again
    with the same external id; for at most the job's timeout, so an error wrongly read as
    "busy" cannot keep an item waiting forever."""
    gate = ctx.gate
    deadline = time.monotonic() + ctx.timeout
    if gate is None:
        return await _create_by(deadline, job, ctx)
    sent = False
    while True:
        try:
            snapshot = await _create_by(deadline, job, ctx, busy_raises=True,
                                        sent_before=sent)
        except ServiceBusy as exc:
            if time.monotonic() >= deadline:
                raise
            sent = True
            log.info("job %s: the service is busy (%s); waiting at %d at once",
                     job.external_task_id, exc, gate.size)
            await gate.wait_after_busy(exc.retry_after)
            continue
        gate.accepted()
        return snapshot


async def _create_with_uploads(job: Job, ctx: RunContext) -> TaskSnapshot:
    """The create; if it sent uploaded URLs and was refused with a 4xx (nothing was made),
    the upload may be gone (how long the service keeps one is unknown): forget those URLs,
    upload again (base64 where that fails) and create once more, with the same external
    id. Never more than once, and never after an answer that may have made a task."""
    try:
        return await _create(job, ctx)
    except APIError as exc:
        if ctx.uploads is None or not refused_with_upload(exc, job.request):
            raise
        log.info("job %s: the create was refused (%s) while it sent uploaded references; "
                 "uploading them again", job.external_task_id, exc)
        job.request = await ctx.uploads.again(job.request)
        await _journal(ctx.journal.record_request, job.external_task_id,
                       job.request.summary())
    return await _create(job, ctx)


async def _poll_until_final(
    job: Job, ctx: RunContext, task_id: str, snapshot: TaskSnapshot, *, learn: bool
) -> TaskSnapshot:
    """Poll until the task is final. Outages are waited out until the job's deadline:
    checking a status is free, and giving up early would strand a task being paid for."""
    schedule = PollSchedule(job.expected, ctx.policy)
    started = time.monotonic()
    deadline = started + ctx.timeout
    last_status = snapshot.status
    outage: Exception | None = None
    delay = 0.0
    while snapshot.status not in ("completed", "failed"):
        finish = job.progress_trend.finish_at()
        delay = schedule.next_delay(time.monotonic() - started, snapshot.retry_after,
                                    None if finish is None else finish - started)
        if time.monotonic() + delay > deadline:
            why = f" (the service has been failing: {outage})" if outage else ""
            raise TaskTimeout(
                f"task {task_id} not finished after {ctx.timeout:g} s{why}; it may still "
                "complete: %kirin resume (or kirin_jupyter.resume()) picks it up later",
                task_id=task_id,
                external_task_id=job.external_task_id,
            )
        await asyncio.sleep(delay)
        if ctx.status_rate is not None:
            await ctx.status_rate.acquire()
        try:
            fetched = await dialect.query(job, ctx, task_id)
        except APIError as exc:
            young = time.monotonic() - started < _YOUNG_TASK_SECONDS
            if exc.status_code == 404 and young:
                continue  # a service may list a new task a moment after creating it
            if not isinstance(exc, (ServiceUnavailable, RateLimited)):
                raise
            if outage is None:
                log.warning("job %s: %s; still trying", job.external_task_id, exc)
            outage = exc
            continue
        outage = None
        assert fetched is not None
        snapshot = fetched
        if snapshot.progress is not None:  # kept when a later answer leaves it out
            job.server_progress = snapshot.progress
            job.progress_trend.add(time.monotonic(), snapshot.progress)
        if snapshot.status != last_status:
            last_status = snapshot.status
            await _journal(ctx.journal.record_state, job.external_task_id, snapshot.status)
        if snapshot.status in ("queued", "running"):
            job._set_status(_status_of(snapshot))
    if learn and snapshot.status == "completed" and time.monotonic() - started > delay:
        # It finished somewhere in the last gap: count half of it.
        request = job.request
        await _journal(ctx.journal.record_duration, request.model.name,
                       request.resolution, request.n, time.monotonic() - started - delay / 2,
                       delay / 2)
    return snapshot


def _failure_text(snapshot: TaskSnapshot, task_id: str, api: GatewayHTTP) -> str:
    detail = api.redact(one_line(snapshot.error_message)) if snapshot.error_message else None
    text = documented_error(snapshot.error_code, detail)
    if text is None:
        code = f" with error {snapshot.error_code}" if snapshot.error_code else ""
        text = f"the service reported failure{code}" + (f": {detail}" if detail else "")
    return f"task {task_id} failed: {text}"


def _at_most_asked(snapshot: TaskSnapshot, request: GenerationRequest, external_id: str
                   ) -> TaskSnapshot:
    """No more results than were asked for: n (or a series's size), twice that with
    watermarked copies (10,000 URLs for n = 1 pinned the engine for 12 minutes before)."""
    allowed = request.images_expected * (2 if request.watermark else 1)
    if len(snapshot.items) <= allowed:
        return snapshot
    asked = f"n = {request.n}" if request.series is None else f"a series of {request.series}"
    log.warning("job %s: the service listed %d results for %s; keeping the first %d",
                external_id, len(snapshot.items), asked, allowed)
    return replace(snapshot, items=snapshot.items[:allowed])


def _suffix_for(url: str, kind: str) -> str:
    suffix = Path(urlsplit(url).path).suffix.lower()
    known = {".png", ".jpg", ".jpeg", ".webp", ".mp4", ".webm", ".mov", ".gif"}
    return suffix if suffix in known else _CONTENT_SUFFIXES.get(kind, ".bin")


async def _download_all(
    ctx: RunContext, task_id: str, snapshot: TaskSnapshot, job: Job
) -> tuple[list[Path], TaskSnapshot]:
    """Download every result in parallel; on an expired URL, re-query once for fresh ones."""
    for attempt in range(2):
        if not snapshot.items:  # kept resumable: the service may list them on a later ask
            raise APIError(f"task {task_id} completed, but the answer lists no result URLs "
                           "that could be read", task_id=task_id)
        downloads = [
            asyncio.ensure_future(ctx.api.download(
                item.url,
                result_path(ctx.output_dir, task_id, index, _suffix_for(item.url, item.type)),
                check=functools.partial(check_result, kind=item.type,
                                        max_pixels=ctx.api.limits.result_pixels),
            ))
            for index, item in enumerate(snapshot.items)
        ]
        try:
            saved = await asyncio.gather(*downloads)  # thumbnails: when a card shows them
            return [path for path, _ in saved], snapshot
        except BaseException as exc:  # one failed: stop the others before going on
            for download in downloads:
                download.cancel()
            await asyncio.gather(*downloads, return_exceptions=True)
            if not isinstance(exc, ResultExpired):
                raise
            if attempt:
                raise ResultExpired(
                    f"the result URLs of task {task_id} have expired, even after asking for "
                    "fresh ones",
                    task_id=task_id,
                ) from None
        snapshot = await dialect.query(job, ctx, task_id)
    raise AssertionError("unreachable")
