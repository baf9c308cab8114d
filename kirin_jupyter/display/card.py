"""The live progress card: one anywidget (``live_view.LiveView``) the engine thread updates.

The card is displayed once, synchronously, by the cell that started the job, with an empty
output after it. After that the engine thread only sets widget values (safe: ipykernel
serialises sends on its IOPub thread) and finally, through the two display handles, turns
the card into the finished one: the widget with buttons on its pictures and, in the empty
output, its static copy (``tile_card.py``); or, with no picture to mark (a failure), the
static ``FinalView``.

In marimo, which has no display handle to swap, ``in_place()`` returns the widget and the
widget itself becomes the finished card (``static.job_html``) when the job ends.

A card can also live inside another widget (the panel): ``attach()`` follows the job without
displaying anything, the card stays a widget when the job ends, and ``on_finish`` tells the
owner, still on the engine thread, so the owner too only sets widget values.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .live_view import LiveView
from .static import FinalView, job_html, job_text, live_frame, live_status, result_html
from .tile_card import TileCard, placeholder

if TYPE_CHECKING:
    from ..engine.job import Job

log = logging.getLogger("kirin_jupyter")


class ProgressCard:
    """The card drawn by ``static.live_html`` (frame, bar, status line), in one widget: the
    frame the finished card keeps."""

    def __init__(self, job: Job, *, on_finish: Callable[[Job], None] | None = None) -> None:
        import ipywidgets as widgets

        self.job = job
        self.on_finish = on_finish
        self.widget = LiveView.drawn(live_frame(job), job.progress, live_status(job),
                                     layout=widgets.Layout(width="100%", margin="0"))
        self.widget.on_cancel = job.cancel  # the card's Cancel button
        self.widget.cancellable = not job.done()
        self.shown_progress = job.progress  # the bar's fraction, as last drawn
        self._handle: Any = None
        self._place: Any = None  # the output after the card, for the finished card's copy
        self._final: TileCard | None = None
        self._static = False  # ended as the static FinalView (the widget closed)
        self._in_place = False
        self._finished = False
        self._lock = threading.Lock()

    def in_cell(self) -> Any:
        """The widget, made ready to stand in a cell's output where the static result will
        replace it: JupyterLab pads rendered HTML 20 px on the right, and the same padding
        here keeps the frame's width (a card inside the panel needs none)."""
        self.widget.layout.padding = "0 20px 0 0"
        return self.widget

    def retire(self) -> None:
        """Close the widget once the static result has replaced it, emptied first: a
        headless run (nbclient) keeps the last state of every widget, closed or not, in the
        saved notebook, and a replaced card's HTML is dead weight there."""
        self.widget.clear()
        self.widget.close()

    def show(self) -> None:
        """Display the card in the current cell and start following the job."""
        from IPython.display import display

        self._handle = display(self.in_cell(), display_id=True)
        self._place = placeholder()
        from .shown import remember

        remember(self, self.job.done)
        self.attach()

    def settle(self) -> None:
        """The finished card sent (again) from this thread: ``%kirin wait`` does, from its
        cell, so a headless run saves it whatever the engine thread has sent so far."""
        with self._lock:
            first = not self._finished
            self._finished = True
            if first:
                self._finish()
            else:
                self._send_final()
        if first:
            self._call_on_finish()

    def in_place(self) -> Any:
        """The widget, following the job, for a front end that shows a returned widget and
        has no display handle to swap (marimo's ``_display_``): at the end the widget
        turns into the finished card, images included."""
        self._in_place = True
        widget = self.in_cell()
        self.attach()
        return widget

    def attach(self) -> None:
        """Follow the job without displaying the card (its owner shows ``self.widget``)."""
        self.job.add_listener(self.refresh)

    def refresh(self, job: Job) -> None:
        """Listener: called from the engine thread on every change and tick."""
        with self._lock:
            if self._finished:
                return
            if job.status not in ("completed", "failed"):
                self._draw()
                return
            self._finished = True
            self._finish()
        self._call_on_finish()

    def _call_on_finish(self) -> None:
        """Outside the card's lock: the owner may take its own lock without a deadlock."""
        if self.on_finish is None:
            return
        try:
            self.on_finish(self.job)
        except Exception:  # a broken owner must never break the job
            log.exception("progress card on_finish failed")

    def _draw(self) -> None:
        self.shown_progress = self.job.progress
        self.widget.show(live_frame(self.job), self.job.progress, live_status(self.job))

    def _finish(self) -> None:
        """In a cell: the static card replaces the widget. Embedded: the widget stays, with
        the finished state and no gallery (its owner shows the results its own way)."""
        self.widget.cancellable = False
        self._draw()
        if self._in_place:
            self.widget.show(job_html(self.job))
        elif self._handle is not None:
            self._send_final()

    def _send_final(self) -> None:
        """The finished card into the cell's two outputs (the caller holds the lock)."""
        result = self.job.result
        if self._final is None and not self._static and result is not None:
            self._final = TileCard.drawn(lambda tiles: result_html(result, tiles),
                                         job_text(self.job), self.widget)
        if self._final is not None:
            self._final.replace(self._handle, self._place)
            return
        self._static = True
        self._handle.update(FinalView(self.job))
        self.retire()
