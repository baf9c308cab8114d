"""Following a batch or a sweep from a magic, the way the front end can (frontends.py).

Both are many jobs shown as one card that ends as a static view; only their drawings and
their noun differ, so the terminal, blocking (Colab) and live modes are written once.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..base import frontends


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
