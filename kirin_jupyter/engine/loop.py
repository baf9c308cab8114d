"""One background thread with its own asyncio loop runs every job of the process.

Why a thread and not the kernel's loop: a task on the kernel's loop freezes while a cell
blocks (``time.sleep``) and, under ipykernel 7, stops between cells. Why no nest_asyncio:
it patches asyncio process-wide, is archived, and the Jupyter projects dropped it for this
very pattern. Sync callers block on a ``concurrent.futures.Future``; async callers await
``asyncio.wrap_future`` of it. The same code runs in JupyterLab, VS Code, a terminal or a script.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .job import Job

T = TypeVar("T")


class Engine:
    """The loop thread, and the jobs of this process still running (``resume`` leaves
    them to their followers): a job leaves the set when it ends, so it never grows."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="kirin-engine", daemon=True)
        self._started = threading.Event()
        self._lock = threading.Lock()
        self._running: set[Job] = set()
        self._thread.start()
        self._started.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._started.set)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coro`` on the engine loop; safe from any thread.

        The task starts in an empty context, not the caller's: under ipykernel the caller's
        context carries the submitting cell as the parent of every message, and a job
        outlives its cell. With no parent of its own, the kernel sends the job's display
        updates as children of the cell executing at that moment, which is where headless
        runners (nbclient, papermill) look for them.
        """
        return contextvars.Context().run(asyncio.run_coroutine_threadsafe, coro, self.loop)

    def register(self, job: Job) -> None:
        with self._lock:
            if job.done():
                return
            self._running.add(job)
        job.on_done(self._forget)

    def _forget(self, job: Job) -> None:
        with self._lock:
            self._running.discard(job)

    def running(self) -> list[Job]:
        """The jobs of this process that have not ended."""
        with self._lock:
            return [job for job in self._running if not job.done()]


_engine: Engine | None = None
_engine_lock = threading.Lock()


def get_engine() -> Engine:
    """The process's engine, started on first use (never at import)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = Engine()
        return _engine
