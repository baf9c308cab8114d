"""``Job``: the handle users hold; ``Result``: what a finished job gives back."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import TaskTimeout
from ..model.request import GenerationRequest
from .estimate import estimated_progress
from .listeners import Listeners
from .polling import Expectation
from .progress_trend import ProgressTrend

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

    from ..model.quote import Quote
    from ..storage.journal import Journal
    from ..storage.marks import Mark


JobStatus = Literal[
    "pending", "submitting", "queued", "running", "downloading", "completed", "failed"
]
Listener = Callable[["Job"], None]


@dataclass
class Result:
    """A finished generation: files already on disk, images loaded when first asked for."""

    task_id: str
    external_task_id: str
    model: str
    prompt: str
    paths: list[Path]
    urls: list[str]
    types: list[str] = field(default_factory=list)
    cost: Decimal | None = None
    simulated: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    finished_at: float | None = None  # wall-clock seconds: when the files were all saved
    options: dict[str, Any] = field(default_factory=dict)  # GenerationRequest.options
    provenance: str = "full"  # what the saved files carry: full, minimal or off
    signed: list[str] = field(default_factory=list)  # C2PA manifests found: files untouched
    # the shared storage URLs this process stored the files at (output_dir = "s3://..."),
    # one per path; a rating written into a file is stored there too
    stored: list[str] = field(default_factory=list, repr=False)
    journal: Journal | None = field(default=None, repr=False, compare=False)
    _images: list[PILImage] | None = field(default=None, repr=False)

    # -- stars, picks and rejects ------------------------------------------------------

    def rate(self, stars: int, image: int | None = None) -> list[Mark]:
        """Rate the result's images 0-5 stars (or only image ``image``, 0-based): in the
        journal, and as ``xmp:Rating`` in each file that carries a record."""
        return self._mark(image, rating=stars)

    def pick(self, image: int | None = None) -> list[Mark]:
        """Mark the images (or one) as picked: ``export(..., picked=True)`` takes them."""
        return self._mark(image, flag="picked")

    def reject(self, image: int | None = None) -> list[Mark]:
        """Mark the images (or one) as rejected: ``cull()`` moves them to ``rejected/``."""
        return self._mark(image, flag="rejected")

    def unmark(self, image: int | None = None) -> list[Mark]:
        """Neither picked nor rejected any more (the stars stay)."""
        return self._mark(image, clear_flag=True)

    @property
    def marks(self) -> list[Mark]:
        """Each file's stars and pick as the journal holds them."""
        from ..storage.marks import marks_of

        return marks_of(self._journal(), list(self.paths))

    def _mark(self, image: int | None, **change: Any) -> list[Mark]:
        from ..storage.marks import mark

        chosen = range(len(self.paths)) if image is None else [self._index(image)]
        journal = self._journal()
        return [mark(journal, self.paths[index], external_id=self.external_task_id,
                     store_at=self.stored[index] if len(self.stored) == len(self.paths)
                     else None, **change)
                for index in chosen]

    def _index(self, image: int) -> int:
        from ..errors import ValidationError

        if isinstance(image, bool) or not isinstance(image, int) or not (
                -len(self.paths) <= image < len(self.paths)):
            raise ValidationError(f"this result has {len(self.paths)} file(s); image "
                                  f"{image!r} is not one of them (0-based)")
        return image % len(self.paths)

    def _journal(self) -> Journal:
        """The journal this result was recorded in; the session's default one for a
        result made by hand."""
        if self.journal is None:
            from ..config.settings import kirin_home
            from ..storage.journal import Journal

            self.journal = Journal(kirin_home() / "journal.sqlite3")
        return self.journal

    @property
    def images(self) -> list[PILImage]:
        """The result images as PIL images (read from the saved files)."""
        if self._images is None:
            from PIL import Image

            loaded = []
            kinds = self.types or ["image"] * len(self.paths)
            for path, kind in zip(self.paths, kinds, strict=False):
                if kind == "image":
                    with Image.open(path) as img:
                        img.load()
                        loaded.append(img)
            self._images = loaded
        return self._images

    def __repr__(self) -> str:
        """One line for a terminal: the task, prompt, cost and the files (the dataclass's
        own repr spelled out every URL, option and piece of metadata)."""
        from ..base.money import usd
        from ..base.text import cut

        named = 4  # files named; the rest counted
        shown = [str(path) for path in self.paths[:named]]
        if len(self.paths) > named:
            shown.append(f"and {len(self.paths) - named} more")
        count = f"{len(self.paths)} file{'s' if len(self.paths) != 1 else ''}"
        cost = f" cost {usd(self.cost)}" if self.cost is not None else ""
        made = " (simulator)" if self.simulated else ""
        return (f"<Result {self.model} {cut(self.prompt, 40)!r} completed task={self.task_id}"
                f"{cost}{made}, {count}: {', '.join(shown)}>")

    def _repr_html_(self) -> str | None:
        """The finished card (images, prompt, cost) in any front end that follows the
        display protocol, IPython's formatters or not (marimo, nbconvert, Quarto)."""
        from ..base.renderers import html

        return html("result_html", self)


class Job:
    """One generation in flight. Returned at once; ``wait()`` or ``await job`` for the Result.

    State changes come from the engine thread; listeners (the progress card) are called
    there too, so they must only set widget values, never display().
    """

    def __init__(
        self,
        request: GenerationRequest,
        *,
        expected: Expectation,
        simulated: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.request = request
        self.expected = expected
        self.simulated = simulated
        self._clock = clock
        self._started = clock()
        self._running_since: float | None = None
        self._ended: float | None = None
        self._lock = threading.Lock()
        self._listeners: Listeners[Job] = Listeners("progress")
        self._future: concurrent.futures.Future[Result] = concurrent.futures.Future()
        self.status: JobStatus = "pending"
        self.task_id: str | None = None
        self.server_progress: float | None = None  # the service's own figure, once sent
        self.progress_trend = ProgressTrend()  # its readings: the pace, the finish ahead
        self.quote: Quote | None = None  # the price said before paying
        self.cost: Decimal | None = None
        self.error: BaseException | None = None
        self.result: Result | None = None
        self.protocol = "generation"  # or "queue": the gateway protocol it was sent in
        self.provenance: str | None = None  # full, minimal, off; None: the client's setting
        # cancel(): the runner's hook (on the engine loop), its task, and why it stopped
        self._cancel_requested = False
        self._canceller: Callable[[], concurrent.futures.Future[str]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner_task: asyncio.Task[Any] | None = None
        self._stop_reason: BaseException | None = None
        self._stop_state = "interrupted"  # the journal state the stopped job is left in
        # set while a service cancel is on the wire: a status answer saying "failed" (the
        # cancel, seen first) waits for it, so the job ends as Cancelled, not as failed
        self._cancel_sent: asyncio.Event | None = None

    # -- what users read -----------------------------------------------------------------

    @property
    def external_task_id(self) -> str:
        return self.request.external_task_id

    @property
    def model(self) -> str:
        return self.request.model.name

    @property
    def prompt(self) -> str:
        return self.request.prompt

    @property
    def elapsed(self) -> float:
        end = self._ended if self._ended is not None else self._clock()
        return max(0.0, end - self._started)

    @property
    def progress(self) -> float:
        """0..1: the service's own figure when it sends one, else an estimate from time."""
        if self.status == "completed":
            return 1.0
        if self.server_progress is not None:
            if self.status == "downloading":
                return max(0.99, self.server_progress)
            shown = self.progress_trend.shown(self._clock())
            return self.server_progress if shown is None else max(shown, self.server_progress)
        if self.status in ("pending", "submitting"):
            return 0.0
        if self.status == "downloading":
            return 0.99
        now = self._clock()
        if self._running_since is None:
            return estimated_progress(now - self._started, None, self.expected.median)
        return estimated_progress(self._running_since - self._started,
                                  now - self._running_since, self.expected.median)

    @property
    def progress_is_estimate(self) -> bool:
        return self.server_progress is None and self.status != "completed"

    def on_done(self, callback: Callable[[Job], None]) -> None:
        """Call ``callback(job)`` once the job has ended (at once if it has)."""
        self._future.add_done_callback(lambda _future: callback(self))

    def done(self) -> bool:
        return self._future.done()

    def wait(self, timeout: float | None = None) -> Result:
        """Block until the result is on disk; re-raise the job's error if it failed.

        ``timeout`` None (or infinite) waits as long as it takes."""
        if timeout is not None:
            if timeout != timeout or timeout < 0:  # NaN, or negative
                raise ValueError(f"timeout must be a number of seconds, 0 or more, "
                                 f"not {timeout!r}")
            if timeout == float("inf"):
                timeout = None
        try:
            return self._future.result(timeout)
        except concurrent.futures.TimeoutError:
            raise TaskTimeout(
                f"job still {self.status} after waiting {timeout:g} s; it goes on in the "
                f"background (task id {self.task_id or 'not yet assigned'})",
                task_id=self.task_id,
                external_task_id=self.external_task_id,
            ) from None

    def __await__(self) -> Generator[Any, None, Result]:
        return asyncio.wrap_future(self._future).__await__()

    def cancel(self, timeout: float = 30.0) -> str:
        """Cancel the job; one line says what happened. On the queue protocol the service
        cancels the task (or, if it had already completed, the result is fetched); on the
        generation protocol, which has no cancel, the job stops being followed, stays
        resumable, and the service finishes (and bills) the task. A job not created yet is
        sent nothing more."""
        if self.done():
            return f"job {self.external_task_id} has already ended ({self.status})"
        hook = self._canceller
        if hook is None:  # not started on the loop yet: it checks this before sending
            self._cancel_requested = True
            return f"job {self.external_task_id}: cancelled before anything was sent"
        future = hook()
        try:
            caller = asyncio.get_running_loop()
        except RuntimeError:
            caller = None
        if caller is not None and caller is self._loop:  # never block the engine's loop
            return f"job {self.external_task_id}: cancel requested"
        return future.result(timeout)

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(job)`` on every change and progress tick (from the engine thread)."""
        self._listeners.add(self, listener)

    def __repr__(self) -> str:
        prompt = self.prompt if len(self.prompt) <= 40 else self.prompt[:39] + "…"
        task = f" task={self.task_id}" if self.task_id else ""
        return f"<Job {self.request.model.alias} {prompt!r} {self.status}{task}>"

    def _repr_html_(self) -> str | None:
        """The card as the job stands (a snapshot while it runs, the images once done) in
        any front end that follows the display protocol (marimo, nbconvert, Quarto)."""
        from ..base.renderers import html

        return html("job_html", self)

    def _display_(self) -> Any:
        """marimo's hook (it wins there over ``_repr_html_``; Jupyter never calls it): the
        live card, one anywidget that moves while the job runs and then becomes the
        finished card in place; the plain repr where no display layer is loaded."""
        from ..base.renderers import render

        return render("job_live", self, fallback=lambda: repr(self))

    # -- called by the runner ------------------------------------------------------------

    def _notify(self) -> None:
        self._listeners.notify(self)

    def _set_status(self, status: JobStatus, *, task_id: str | None = None) -> None:
        if task_id:
            self.task_id = task_id
        if status == "running" and self._running_since is None:
            self._running_since = self._clock()
        self.status = status
        self._notify()

    def _stop(self, reason: BaseException, journal_state: str) -> None:
        """End the job's run on the loop with ``reason`` (a cancel); called on the loop."""
        self._stop_reason, self._stop_state = reason, journal_state
        if self._runner_task is not None and not self._runner_task.done():
            self._runner_task.cancel()

    def _finish(self, result: Result) -> None:
        self.result = result
        self.cost = result.cost
        self._ended = self._clock()
        self.status = "completed"
        self._notify()  # before the future: wait() returns only once the card shows the result
        self._future.set_result(result)

    def _fail(self, error: BaseException) -> None:
        self.error = error
        self._ended = self._clock()
        self.status = "failed"
        self._notify()
        self._future.set_exception(error)
