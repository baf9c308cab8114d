"""Following a job, a batch or a sweep from a magic, the way the front end can
(frontends.py): a terminal line, a card refreshed by the main thread (Colab), or a live card.

A batch and a sweep are many jobs shown as one card that ends as a static view; only their
drawings and their noun differ, so the terminal, blocking (Colab) and live modes are
written once. The main-thread loop is shared with the single job's card.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..base import frontends
from ..base.money import usd

if TYPE_CHECKING:
    from ..batches.batch import Batch
    from ..batches.sweep import Sweep
    from ..engine.job import Job


class Group(Protocol):
    def done(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> Any: ...


class LiveCard(Protocol):
    widget: Any

    def refresh(self, group: Any) -> None: ...
    def show(self) -> None: ...


@dataclass(frozen=True)
class Drawings:
    noun: str  # "batch" or "sweep": what the messages call it
    text: Callable[[Any], str]  # for a terminal
    card: Callable[[Any], LiveCard]  # the live card, replaced by the final view at the end
    final: Callable[[Any], Any]  # the final view, for a front end that redraws by hand


def follow(shell: Any, group: Group, drawings: Drawings, *, wait: bool,
           timeout: float | None) -> None:
    from IPython.display import display

    mode = frontends.mode(frontends.detect(shell))
    if mode == "terminal":
        print(drawings.text(group))
        if wait:
            wait_quietly(group, drawings.noun, timeout)
            print(drawings.text(group))
        return
    card = drawings.card(group)
    if mode == "blocking":  # Colab: only the main thread may touch the widget
        handle = display(card.widget, display_id=True)
        follow_on_main_thread(shell, group, drawings.noun, timeout,
                              refresh=lambda: card.refresh(group),
                              finish=lambda: handle.update(drawings.final(group)))
        return
    card.show()
    if wait:
        wait_quietly(group, drawings.noun, timeout)


SLICE = 0.25  # seconds between two refreshes of a blocking card


def follow_on_main_thread(shell: Any, group: Group, noun: str, timeout: float | None, *,
                          refresh: Callable[[], None], finish: Callable[[], None]) -> None:
    """Blocking mode (Colab), for a job, a batch or a sweep alike: wait in short slices and
    refresh the card from this (the main) thread; the engine thread never touches its
    widgets. When the wait ends early (a timeout, Ctrl-C) the card still gets its final
    view, from the main thread, after the first cell that runs once it is done. Written
    once: the batch's copy of this loop never showed an interrupted batch's end."""
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while not group.done():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                print(f"kirin: stopped waiting after {timeout:g} s; the {noun} goes on in "
                      "the background (%kirin wait waits for it)")
                finish_after_a_later_cell(shell, group, finish)
                return
            with contextlib.suppress(Exception):  # its error shows on its card
                group.wait(SLICE if left is None else min(SLICE, left))
            refresh()
    except KeyboardInterrupt:
        where = "%kirin jobs" if noun == "job" else "%kirin wait waits for it"
        print(f"kirin: stopped waiting; the {noun} goes on ({where})")
        finish_after_a_later_cell(shell, group, finish)
        return
    finish()


def finish_after_a_later_cell(shell: Any, group: Group, finish: Callable[[], None]) -> None:
    """Give the card its final view after the first cell that runs once ``group`` is
    done (``%kirin wait`` too)."""
    events = getattr(shell, "events", None)
    if events is None:
        return

    def after_cell(*_args: Any) -> None:
        if group.done():
            events.unregister("post_run_cell", after_cell)
            finish()

    events.register("post_run_cell", after_cell)


def wait_quietly(group: Group, noun: str, timeout: float | None) -> None:
    """Wait, saying in one line why the wait ended early; the group goes on regardless."""
    try:
        group.wait(timeout)
    except TimeoutError as exc:
        print(f"kirin: {str(exc).replace('batch', noun, 1)}")
    except KeyboardInterrupt:
        print(f"kirin: stopped waiting; the {noun} goes on ({noun}.wait() waits again)")


def follow_batch(shell: Any, batch: Batch, *, wait: bool, timeout: float | None) -> None:
    """Show the batch the way this front end can."""
    from ..display.batch_card import BatchCard, FinalBatchView, batch_text

    drawings = Drawings("batch", batch_text, BatchCard, FinalBatchView)
    follow(shell, batch, drawings, wait=wait, timeout=timeout)


def follow_sweep(shell: Any, sweep: Sweep, *, wait: bool, timeout: float | None) -> None:
    """Show the sweep the way this front end can."""
    from ..display.sweep_grid import FinalSweepView, SweepCard, sweep_text

    drawings = Drawings("sweep", sweep_text, SweepCard, FinalSweepView)
    follow(shell, sweep, drawings, wait=wait, timeout=timeout)


def follow_job(shell: Any, job: Job, *, wait: bool, timeout: float | None) -> None:
    """Show a job the way this front end can."""
    from IPython.display import display

    mode = frontends.mode(frontends.detect(shell))
    if mode == "terminal":
        run_in_terminal(job, timeout)
        return
    from ..display.card import ProgressCard

    card = ProgressCard(job)
    if mode == "blocking":  # Colab: the main thread applies progress while it waits
        from ..display.static import FinalView

        handle = display(card.in_cell(), display_id=True)

        def finish() -> None:
            card.refresh(job)
            handle.update(FinalView(job))
            card.retire()

        follow_on_main_thread(shell, job, "job", timeout,
                              refresh=lambda: card.refresh(job), finish=finish)
        return
    card.show()
    if wait:
        wait_behind_card(job, timeout)


STOPPED_WAITING = "kirin: stopped waiting; the job goes on (%kirin jobs)"


def wait_behind_card(job: Job | Batch, timeout: float | None) -> bool:
    """Wait for a job (or a batch) whose outcome its card already shows; never raise its
    error twice, nor a timeout (``%kirin wait`` counts what is still running). Ctrl-C
    stops the waiting, not the job: one line, no traceback. False after Ctrl-C."""
    from ..errors import KirinError

    try:
        with contextlib.suppress(KirinError, TimeoutError):
            job.wait(timeout)
    except KeyboardInterrupt:
        print(STOPPED_WAITING)
        return False
    return True


def run_in_terminal(job: Job, timeout: float | None) -> None:
    """No widgets: block, showing one updating progress line, then the saved files.

    The line is redrawn in place (carriage return) on a terminal; when the output is not
    a terminal (a pipe, a log), one line per change of state is printed instead. The
    listener runs on the engine thread, only prints, and falls silent once this returns
    (a timeout or Ctrl-C leaves the job running without writing over the prompt).
    """
    import sys

    from ..errors import KirinError

    stream = sys.stdout
    redraw = bool(getattr(stream, "isatty", lambda: False)())
    shown: dict[str, Any] = {"width": 0, "status": "", "active": True}

    def line(j: Job) -> None:
        if not shown["active"]:
            return
        text = progress_text(j)
        if redraw:
            pad = " " * max(0, shown["width"] - len(text))
            stream.write("\r" + text + pad)
            stream.flush()
            shown["width"] = len(text)
        elif j.status != shown["status"]:
            stream.write(text + "\n")
            stream.flush()
        shown["status"] = j.status

    job.add_listener(line)
    try:
        result = job.wait(timeout)
    except KirinError as exc:
        shown["active"] = False
        print(("\n" if redraw else "") + f"kirin: {exc}")
        return
    except KeyboardInterrupt:
        shown["active"] = False
        print(("\n" if redraw else "") + STOPPED_WAITING)
        return
    finally:
        shown["active"] = False
    if redraw:
        print()
    count = len(result.paths)
    print(f"kirin: {count} file{'s' if count != 1 else ''} saved"
          + (f", cost {usd(result.cost)}" if result.cost is not None else ""))
    for path in result.paths:
        print(f"  {path}")


def progress_text(job: Job, width: int = 20) -> str:
    """'kirin omni running     [######--------------]  31%   2.4 s'"""
    filled = round(job.progress * width)
    bar = "#" * filled + "-" * (width - filled)
    return (f"kirin {job.request.model.alias:<4} {job.status:<11} [{bar}] "
            f"{job.progress * 100:3.0f}% {job.elapsed:6.1f} s")
