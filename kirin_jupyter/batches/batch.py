"""``Batch``: many prompts as one thing to watch, wait for, pay for and resume.

The items run on the engine loop like any job (journal row before the create, polling,
download), with three differences: one coroutine feeds them through an ``AdaptiveLimit``
(the service's "no room now" slows the batch instead of failing items); each item's
external id is the batch's name and its number, so running the batch again after a crash
finds what was bought and buys nothing twice; and the whole batch is priced, and checked
against ``max_cost``, before its first create.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..engine.adaptive import AdaptiveLimit
from ..engine.job import Job, Result
from ..engine.listeners import Listeners
from ..engine.polling import Expectation
from ..engine.runner import run_job
from ..errors import KirinError, NeverCreated, TaskFailed
from ..model.quote import Quote, summed
from ..model.request import GenerationRequest
from ..service.http import BUSY_CODE
from ..storage.shared_results import local_paths
from .journal import (
    ItemRow,
    describe_owner,
    item_external_id,
    result_from_row,
)
from .journal_pg import batch_journal

if TYPE_CHECKING:
    from ..engine.runner import RunContext
    from ..money.budget import Budget
    from ..money.prices import Prices
    from ..simulator.service import SimulatorService
    from ..storage.journal import Journal

log = logging.getLogger("kirin_jupyter")
Listener = Callable[["Batch"], None]
# What taking over a watched batch gives: (queue, follow) to run it here, or the kernel
# that runs it now ("host:pid"), one that was faster.
Takeover = tuple[list[int], list[tuple[int, Job]]] | str | None
_TICK_SECONDS = 0.5
_WATCH_SECONDS = 0.3  # how often a watched batch's journal rows are read again
_WAITING = ("submitting", "pending", "queued")  # journal states of an item not yet running
_running: set[asyncio.Task[None]] = set()  # held until done (the loop keeps weak refs)


class Batch:
    """A batch of generations: ``wait()``, ``results``, ``failed``, ``retry_failed()``,
    ``cost``, ``records()`` / ``to_frame()``, ``page(n)``; shown as one card."""

    def __init__(self, services: BatchServices, name: str,
                 requests: list[GenerationRequest], *, gate: AdaptiveLimit,
                 quotes: list[Quote | None]) -> None:
        self._services = services  # handed in by the client: never the client itself
        self._journal = batch_journal(services.journal)
        self.name = name
        self.requests = requests
        self.size = len(requests)
        self.gate = gate
        self.quotes = quotes  # each item's price, as quoted before the first create
        self.jobs: list[Job | None] = [None] * self.size
        self.attempts = [0] * self.size
        self.creates = 0  # creates sent by this process (resumed items are not sent again)
        self.reused = 0  # items found completed in the journal: not bought again
        self.followed = 0  # items found at the service and followed again
        self._earlier: list[Result | None] = [None] * self.size
        self._failed: dict[int, str] = {}  # items that failed in an earlier run, why
        self._queue: deque[int] = deque()
        self._active: set[int] = set()
        self._wake: asyncio.Event | None = None
        self._listeners: Listeners[Batch] = Listeners("batch")
        self._lock = threading.Lock()
        self._done: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._stopped = False
        self.started_at = time.monotonic()
        self.ended_at: float | None = None
        self._done_this_run = 0
        self._expected: dict[tuple[str, str, int], Expectation] = {}
        # While another kernel runs this named batch: that kernel ("host:pid"), and the
        # state ("queued" or "running") of each of its items not landed yet.
        self.made_by: str | None = None
        self._elsewhere: dict[int, str] = {}
        self.note: str | None = None  # why the batch did not do what it was asked

    # -- what users read -----------------------------------------------------------------

    def __len__(self) -> int:
        return self.size

    @property
    def simulated(self) -> bool:
        """Run by the built-in simulator (its card says so)."""
        return self._services.simulated

    def __repr__(self) -> str:
        counts = self.counts()
        by = f", made by another kernel ({describe_owner(self.made_by)})" \
            if self.made_by else ""
        return (f"<Batch {self.name!r} {self.size} items: {counts['done']} done, "
                f"{counts['failed']} failed, {counts['running']} running, "
                f"{counts['queued']} queued{by}>")

    def _repr_html_(self) -> str | None:
        """The card (counts and a bar while it runs, the gallery once done) in any front
        end that follows the display protocol (marimo, nbconvert, Quarto)."""
        from ..base.renderers import html

        return html("batch_html", self)

    def _display_(self) -> Any:
        """marimo's hook (it wins there over ``_repr_html_``; Jupyter never calls it): the
        live card, one anywidget that moves while the batch runs and then becomes the
        finished card in place; the plain repr where no display layer is loaded."""
        from ..base.renderers import render

        return render("batch_live", self, fallback=lambda: repr(self))

    def state(self, index: int) -> str:
        """'queued', 'running', 'done' or 'failed' for the item at ``index``."""
        if self._earlier[index] is not None:
            return "done"
        elsewhere = self._elsewhere.get(index)
        if elsewhere is not None:
            return elsewhere
        job = self.jobs[index]
        if job is None:
            return "failed" if index in self._failed else "queued"
        if job.status == "completed":
            return "done"
        if job.status == "failed":
            return "failed"
        if job.status in ("pending", "submitting", "queued"):
            return "queued"
        return "running"

    def counts(self) -> dict[str, int]:
        counts = {"queued": 0, "running": 0, "done": 0, "failed": 0}
        for index in range(self.size):
            counts[self.state(index)] += 1
        return counts

    def done(self) -> bool:
        """Every item done or failed (or the batch stopped, with its items at the service
        followed to the end)."""
        return self.ended_at is not None

    @property
    def results(self) -> list[Result | None]:
        """Each item's Result in input order; None for an item not done (yet)."""
        out: list[Result | None] = []
        for index in range(self.size):
            earlier = self._earlier[index]
            job = self.jobs[index]
            out.append(earlier if earlier is not None else
                       job.result if job is not None else None)
        return out

    @property
    def failed(self) -> list[tuple[int, str, str]]:
        """(index, prompt, reason) of every item that failed."""
        out = []
        for index in range(self.size):
            if self.state(index) != "failed":
                continue
            job = self.jobs[index]
            reason = str(job.error) if job is not None and job.error is not None \
                else self._failed.get(index, "failed")
            out.append((index, self.requests[index].prompt, reason))
        return out

    @property
    def cost(self) -> Decimal:
        """What the items done so far cost, as the service reported it."""
        return sum((r.cost for r in self.results if r is not None and r.cost is not None),
                   Decimal(0))

    @property
    def price(self) -> Decimal | None:
        """The whole batch's price as quoted before it started (None if not known)."""
        total = summed(self.quotes)
        return total.usd if total is not None else None

    def eta(self) -> float | None:
        """Seconds until the last item is done, from the pace so far; None when done."""
        left = sum(1 for i in range(self.size) if self.state(i) in ("queued", "running"))
        if left == 0:
            return None
        now = time.monotonic()
        if self._done_this_run:
            rate = self._done_this_run / max(1e-3, now - self.started_at)
            return left / rate
        median = self._expectation(self.requests[0]).median
        return median * math.ceil(left / max(1, self.gate.size))

    def wait(self, timeout: float | None = None) -> list[Result | None]:
        """Block until every item is done or failed; the results in input order (None for
        a failed item: ``failed`` says why). Raises ``TimeoutError`` after ``timeout``."""
        try:
            self._done.result(timeout)
        except concurrent.futures.TimeoutError:
            counts = self.counts()
            raise TimeoutError(
                f"batch {self.name} not finished after {timeout:g} s ({counts['done']} of "
                f"{self.size} done); it goes on in the background") from None
        return self.results

    def __await__(self) -> Any:
        return asyncio.wrap_future(self._done).__await__()

    def records(self) -> list[dict[str, Any]]:
        """One dict per item: what a table (or ``to_frame()``) shows."""
        rows = []
        results = self.results
        for index, request in enumerate(self.requests):
            job = self.jobs[index]
            result = results[index]
            state = self.state(index)
            error = None
            if state == "failed":
                error = str(job.error) if job is not None and job.error is not None \
                    else self._failed.get(index)
            rows.append({
                "index": index,
                "prompt": request.prompt,
                "model": request.model.name,
                "state": state,
                "external_id": request.external_task_id,
                "task_id": result.task_id if result else job.task_id if job else None,
                "cost": result.cost if result else None,
                "paths": [str(p) for p in result.paths] if result else [],
                "error": error,
            })
        return rows

    def to_frame(self) -> Any:
        """``records()`` as a pandas DataFrame (pandas is an optional extra)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_frame() needs pandas: pip install pandas (or use "
                              "records())") from None
        return pd.DataFrame(self.records())

    def page(self, number: int = 1, per_page: int | None = None) -> Any:
        """One page of the gallery (shown as a cell's value)."""
        from ..base.renderers import render

        return render("batch_page", self, number, per_page,
                      fallback=lambda: [r for r in self.results if r is not None])

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(batch)`` on every change and tick (from the engine thread)."""
        self._listeners.add(self, listener)

    def _notify(self) -> None:
        self._listeners.notify(self)

    # -- what an earlier run did --------------------------------------------------------

    def sort_items(self, rows: dict[int, ItemRow], lost: set[int] | None = None
                   ) -> tuple[list[int], list[tuple[int, str | None]]]:
        """Each item into done (an earlier result), failed (settled), at the service
        (returned with its task id, to follow) or queued (to be bought: returned), from
        the journal's ``rows``; ``lost`` items had inputs that were not kept."""
        simulator = self._services.simulator
        self._elsewhere.clear()
        queue: list[int] = []
        follow: list[tuple[int, str | None]] = []
        for index, request in enumerate(self.requests):
            seen = rows.get(index)
            if seen is None:
                if lost and index in lost:
                    self._failed[index] = ("its inputs were objects in memory, not kept in "
                                           "the journal: run the batch again with a name")
                else:
                    queue.append(index)
                continue
            self.attempts[index] = seen.attempt
            if seen.attempt:
                self.requests[index] = request = replace(
                    request, external_task_id=seen.row["external_id"])
            result = result_from_row(seen.row, simulated=self.simulated,
                                     journal=self._services.journal)
            if result is not None:
                self._earlier[index] = result
                self.reused += 1
            elif seen.status == "failed":
                self._failed[index] = seen.row["error"] or seen.status
            elif seen.status == "not_created" or (simulator is not None and not simulator.knows(
                    seen.row["task_id"] or seen.row["external_id"])):
                # Never bought (the service listed no task for the id), or a task of the
                # in-process simulator, which ended with the kernel that made it (free):
                # the item is made again, under its next attempt's id.
                self.attempts[index] += 1
                self.requests[index] = replace(request, external_task_id=item_external_id(
                    self.name, index, self.attempts[index]))
                queue.append(index)
            else:
                follow.append((index, seen.row["task_id"]))
        return queue, follow

    def follow_found(self, found: list[tuple[int, str | None]]) -> list[tuple[int, Job]]:
        """The jobs that follow the items at the service (made once the budget has
        passed: a job made and never run would be waited for)."""
        follow = []
        for index, task_id in found:
            job = self._new_job(index)
            job.task_id = task_id
            self.followed += 1
            follow.append((index, job))
        return follow

    # -- control -------------------------------------------------------------------------

    def stop(self) -> None:
        """Send no more creates. Items already at the service are followed to the end (they
        are paid for); running the batch again (same name) or ``%kirin resume`` goes on."""
        from ..engine.loop import get_engine

        def stop_on_loop() -> None:
            self._stopped = True
            self._queue.clear()
            self._kick()

        get_engine().loop.call_soon_threadsafe(stop_on_loop)

    def cancel(self) -> list[str]:
        """Stop the batch: its queued items are sent nothing more (as ``stop()``), and its
        items in flight are cancelled (``Job.cancel()``: at the service on the queue
        protocol; on the generation protocol they stop being followed and stay
        resumable). One line per item in flight says what happened to it."""
        self.stop()
        return [job.cancel() for job in list(self.jobs) if job is not None and not job.done()]

    def retry_failed(self) -> Batch:
        """Send the failed items again, each with a new external id (``NAME-00007-r1``).
        The budget is checked for all of them first; nothing is sent if it would pass."""
        failed = [index for index, _, _ in self.failed]
        if not failed:
            return self
        again = {index: replace(self.requests[index], external_task_id=item_external_id(
            self.name, index, self.attempts[index] + 1)) for index in failed}
        self._services.budget.check_batch([again[i] for i in failed],
                                          [self.quotes[i] for i in failed])
        holder = self._journal.reopen(self.name)  # no other kernel runs it: ours again
        if holder is not None:
            raise KirinError(f"batch {self.name!r} is being run by another kernel "
                             f"({describe_owner(holder)}); retry its failed items there, "
                             "or here once it has ended")
        for index in failed:
            self.attempts[index] += 1
            self.requests[index] = again[index]
            self.jobs[index] = None
            self._failed.pop(index, None)
        self.launch(queue=failed, follow=[])
        return self

    # -- the run, on the engine loop -----------------------------------------------------

    def launch(self, *, queue: list[int], follow: list[tuple[int, Job]]) -> None:
        """Run: buy the ``queue``d items and follow the jobs of those at the service."""
        from ..engine.loop import get_engine

        if self._done.done():
            self._done = concurrent.futures.Future()
        self._stopped = False
        self.ended_at = None
        context = self._services.run_context(self.gate)  # the journal's row is ours

        async def launch() -> None:
            task = asyncio.create_task(self._run(context, queue, follow))
            _running.add(task)
            task.add_done_callback(_running.discard)

        get_engine().submit(launch())

    def _kick(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _run(self, ctx: RunContext, queue: list[int],
                   follow: list[tuple[int, Job]]) -> None:
        self._wake = asyncio.Event()
        ticker = asyncio.create_task(self._tick())
        try:
            for index, job in follow:  # at the service already: they hold slots
                self.gate.hold()
                self._launch(ctx, index, job, resume=True)
            if ctx.uploads is not None:  # a reference used by several items: sent once
                ctx.uploads.expect(self.requests[i] for i in queue)
            self._queue.extend(queue)
            while self._queue or self._active:
                if not self._queue:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                await self.gate.acquire()
                if not self._queue:  # stopped while waiting
                    self.gate.release()
                    continue
                index = self._queue.popleft()
                job = self._new_job(index)
                self.creates += 1
                self._launch(ctx, index, job, resume=False)
        except BaseException:
            log.exception("batch %s stopped", self.name)
            raise
        finally:
            ticker.cancel()
            self.ended_at = time.monotonic()
            if not self._stopped and not self._queue:
                await asyncio.to_thread(self._journal.finish, self.name)
            else:  # items left: any kernel may finish them now (one watching it, too)
                await asyncio.to_thread(self._journal.release, self.name)
            self._notify()
            if not self._done.done():
                self._done.set_result(None)

    # -- another kernel runs it ----------------------------------------------------------

    @property
    def note_made_by(self) -> str:
        assert self.made_by is not None
        return (f"batch {self.name}: made by another kernel ({describe_owner(self.made_by)});"
                " its items are shown here as they land, and nothing is bought twice")

    def watch(self, holder: str, take_over: Callable[[], Takeover]) -> None:
        """Show the items another live kernel makes as they land in the journal; buy
        nothing. If that kernel stops or dies with items left, ``take_over`` (in a worker
        thread) makes the batch ours: what it made is kept or followed, the rest bought."""
        from ..engine.loop import get_engine

        self.made_by = holder
        self.note = self.note_made_by
        self._elsewhere = dict.fromkeys(range(self.size), "queued")
        self._land(self._journal.items(self.name))
        context = self._services.run_context(self.gate)

        async def launch() -> None:
            task = asyncio.create_task(self._watching(context, take_over))
            _running.add(task)
            task.add_done_callback(_running.discard)

        get_engine().submit(launch())

    def _items_here(self) -> dict[int, Any]:
        """The journal's items, a teammate's shared results among them fetched (off the
        loop: ``_land`` then finds them on disk)."""
        rows = self._journal.items(self.name)
        for seen in rows.values():
            if seen.status == "completed":
                local_paths(seen.row["paths"])
        return rows

    def _land(self, rows: dict[int, Any]) -> None:
        """Take up the items the other kernel has finished (results on disk)."""
        for index in list(self._elsewhere):
            seen = rows.get(index)
            if seen is None:
                continue
            if seen.attempt:
                self.attempts[index] = seen.attempt
                self.requests[index] = replace(self.requests[index],
                                               external_task_id=seen.row["external_id"])
            result = result_from_row(seen.row, simulated=self.simulated,
                                     journal=self._services.journal)
            if result is not None:
                self._earlier[index] = result
                del self._elsewhere[index]
            else:  # made there: running until it lands (a failure may be made again)
                self._elsewhere[index] = "queued" if seen.status in _WAITING else "running"

    async def _watching(self, ctx: RunContext, take_over: Callable[[], Takeover]) -> None:
        self._wake = asyncio.Event()
        ticker = asyncio.create_task(self._tick())
        run: tuple[list[int], list[tuple[int, Job]]] | None = None
        try:
            while self._elsewhere and not self._stopped:
                holder = await asyncio.to_thread(self._journal.holder, self.name)
                self._land(await asyncio.to_thread(self._items_here))
                if not self._elsewhere:
                    break
                if holder is None:  # it ended, stopped or died: ours, if no one was faster
                    try:
                        outcome = await asyncio.to_thread(take_over)
                    except Exception as exc:  # the budget, the journal: left unbought
                        self.note = f"batch {self.name}: not taken over: {exc}"
                        log.warning("%s", self.note)
                        break
                    if isinstance(outcome, tuple):
                        run = outcome
                        break
                    holder = outcome
                if holder is not None and holder != self.made_by:
                    self.made_by = holder
                    self.note = self.note_made_by
                self._notify()
                with contextlib.suppress(asyncio.TimeoutError):  # a stop() wakes it
                    await asyncio.wait_for(self._wake.wait(), _WATCH_SECONDS)
                self._wake.clear()
        except Exception as exc:  # a journal that cannot be read: say so, and end
            self.note = f"batch {self.name}: stopped watching it: {exc}"
            log.exception("batch %s: watching it stopped", self.name)
        finally:
            ticker.cancel()
        if run is not None:
            self.made_by = self.note = None
            await self._run(ctx, *run)
            return
        self.ended_at = time.monotonic()
        self._notify()
        if not self._done.done():
            self._done.set_result(None)

    def _new_job(self, index: int) -> Job:
        request = self.requests[index]
        job = Job(request, expected=self._expectation(request), simulated=self.simulated)
        job.quote = self.quotes[index]
        self.jobs[index] = job
        self._services.adopt(job)
        return job

    def _expectation(self, request: GenerationRequest) -> Expectation:
        """How long items like this take: one journal query per kind, not per item (nor
        per redraw of the card, which runs on the engine loop)."""
        kind = (request.model.name, request.resolution, request.n)
        expected = self._expected.get(kind)
        if expected is None:
            expected = self._expected[kind] = self._services.expect(request)
        return expected

    def _launch(self, ctx: RunContext, index: int, job: Job, *, resume: bool) -> None:
        self._active.add(index)
        task = asyncio.create_task(self._follow(ctx, index, job, resume=resume))
        _running.add(task)
        task.add_done_callback(_running.discard)

    async def _follow(self, ctx: RunContext, index: int, job: Job, *, resume: bool) -> None:
        try:
            await run_job(job, ctx, resume=resume)
        finally:
            self.gate.release()
            self._active.discard(index)
        busy = isinstance(job.error, TaskFailed) and job.error.code == BUSY_CODE
        never_sent = resume and isinstance(job.error, NeverCreated)
        if (busy or never_sent) and not self._stopped:
            # Busy: the service took the task, then had no room for it (not billed).
            # Never sent: the kernel died between the journal row and the create, and the
            # service lists no task for the id. Either way the item is made again, under
            # its next external id (busy: at a lower concurrency).
            if busy:
                self.gate.busy(None)
            self.attempts[index] += 1
            self.requests[index] = replace(
                self.requests[index],
                external_task_id=item_external_id(self.name, index, self.attempts[index]))
            self.jobs[index] = None
            self._queue.append(index)
        elif job.status == "completed":
            self._done_this_run += 1
        self._kick()
        self._notify()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(_TICK_SECONDS)
            self._notify()


@dataclass(frozen=True)
class BatchServices:
    """What batch and sweep code is handed by the client that composes it, so a batch
    never holds (nor imports) the client. Made by ``Client.batch_services()`` for each
    call, so settings changed since (``%config Kirin``) are in it."""

    journal: Journal
    base_url: str
    output_dir: Path
    simulator: SimulatorService | None
    max_sweep_cells: int
    build: Callable[..., GenerationRequest]  # prompt and options into a checked request
    prices: Prices
    budget: Budget
    run_context: Callable[[AdaptiveLimit], RunContext]  # what a batch's jobs run with
    expect: Callable[[GenerationRequest], Expectation]  # how long a request should take
    adopt: Callable[[Job], None]  # count a job as the client's (its list, the budget)
    keep: Callable[[Batch], None]  # count a started batch as the client's
    running: Sequence[Batch]  # the client's batches, read to find one running here

    @property
    def simulated(self) -> bool:
        return self.simulator is not None
