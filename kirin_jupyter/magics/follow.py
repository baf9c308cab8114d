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
        deadline = None if timeout is None else time.monotonic() + timeout
        with contextlib.suppress(KeyboardInterrupt):
            while not group.done() and (deadline is None or time.monotonic() < deadline):
                time.sleep(0.5)
                card.refresh(group)
        if group.done():
            handle.update(drawings.final(group))
        return
    card.show()
    if wait:
        wait_quietly(group, drawings.noun, timeout)


def wait_quietly(group: Group, noun: str, timeout: float | None) -> None:
    """Wait, saying in one line why the wait ended early; the group goes on regardless."""
    try:
        group.wait(timeout)
    except TimeoutError as exc:
        print(f"kirin: {str(exc).replace('batch', noun, 1)}")
    except KeyboardInterrupt:
        print(f"kirin: stopped waiting; the {noun} goes on ({noun}.wait() waits again)")
