"""The running jobs' journal writes, grouped: one thread, one transaction per group.

Each job writes its journal six or seven times (submitted, created, state changes, URLs,
result, duration). One thread hop and one commit per write made the journal about a
sixth of the engine's CPU with 2,000 jobs running. Writes that arrive while a group is
being written wait and go together in the next one, so a quiet journal still writes at
once, a busy one commits (and fsyncs) once for many jobs, and every caller still waits
until its own write is on disk: the order of a job's writes and "written before the
create is sent" hold as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import sqlite3
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

log = logging.getLogger("kirin_jupyter")

if TYPE_CHECKING:
    from .journal import Journal

GROUP_MOST = 256  # writes in one transaction: bounds how long one commit holds the lock


@dataclass
class _Write:
    call: Callable[..., None]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    durable: bool
    loop: asyncio.AbstractEventLoop
    done: asyncio.Future[None]


class JournalWriter:
    """The one thread that writes a journal for the engine."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._queue: queue.SimpleQueue[_Write] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    async def write(self, call: Callable[..., None], *args: Any, durable: bool = False,
                    **kwargs: Any) -> None:
        """Run ``call(*args, **kwargs)`` (a write method of the journal) in the next group;
        raises what it raised."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._queue.put(_Write(call, args, kwargs, durable, loop, done))
        self._ensure_thread()
        await done

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._pid != os.getpid():  # a forked child has the queue, not the thread
                self._queue, self._thread, self._pid = queue.SimpleQueue(), None, os.getpid()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="kirin-journal",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                group = [self._queue.get(timeout=30.0)]
            except queue.Empty:
                with self._lock:  # idle: the thread ends, the next write starts another
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            while len(group) < GROUP_MOST:
                try:
                    group.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            outcomes = self._journal.write_together(
                [(w.call, w.args, w.kwargs) for w in group],
                durable=any(w.durable for w in group),
            )
            by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, Any]]] = {}
            for write, outcome in zip(group, outcomes, strict=True):
                by_loop.setdefault(write.loop, []).append((write.done, outcome))
            for loop, settled in by_loop.items():  # one wake-up per loop, not per write
                with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits
                    loop.call_soon_threadsafe(_settle, settled)


def _settle(settled: list[tuple[asyncio.Future[None], BaseException | None]]) -> None:
    for done, outcome in settled:
        if done.cancelled():
            continue
        if outcome is None:
            done.set_result(None)
        else:
            done.set_exception(outcome)


_writers: weakref.WeakKeyDictionary[Journal, JournalWriter] = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def writer_for(journal: Journal) -> JournalWriter:
    with _writers_lock:
        writer = _writers.get(journal)
        if writer is None:
            writer = _writers[journal] = JournalWriter(journal)
        return writer


async def write(fn: Callable[..., None], *args: object, durable: bool = False,
                **kw: Any) -> None:
    """A journal method's write (``fn`` is a Journal's own bound method), grouped with
    other jobs' writes and run off the loop: a slow disk never stalls other jobs."""
    journal = fn.__self__  # type: ignore[attr-defined]
    await writer_for(journal).write(fn, *args, durable=durable, **kw)


async def write_or_log(fn: Callable[..., None], *args: object, **kw: Any) -> None:
    """``write``, whose failure is logged: past the write before a create (which must
    succeed), a failing journal never fails a job whose result is paid for."""
    try:
        await write(fn, *args, **kw)
    except sqlite3.Error as exc:
        log.warning("journal write %s failed: %s", getattr(fn, "__name__", fn), exc)
