"""The live progress card: widgets whose values the engine thread changes.

The card is displayed once, synchronously, by the cell that started the job. After that the
engine thread only sets widget values (safe: ipykernel serialises sends on its IOPub thread)
and finally swaps the display for the static ``FinalView`` through the display handle.

A card can also live inside another widget (the panel): ``attach()`` follows the job without
displaying anything, the card stays a widget when the job ends, and ``on_finish`` tells the
owner, still on the engine thread, so the owner too only sets widget values.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING, Any

from .static import FinalView, badge, header_html

if TYPE_CHECKING:
    from ..job import Job

log = logging.getLogger("kirin_jupyter")

_STATE_COLOURS = {
    "pending": "#57606a",
    "submitting": "#57606a",
    "queued": "#8250df",
    "running": "#0969da",
    "downloading": "#0969da",
    "completed": "#1a7f37",
    "failed": "#cf222e",
}


def status_line(job: Job) -> str:
    """'running · 12.3 s · 45 % · about $0.28 (quoted by the service)' as safe HTML; a
    percentage the service did not send is marked '~45 % (estimated)'."""
    parts = [f"{job.elapsed:.1f} s"]
    if job.status not in ("completed", "failed"):
        percent = f"{job.progress * 100:.0f} %"
        parts.append(f"~{percent} (estimated)" if job.progress_is_estimate else percent)
    if job.cost is not None:
        parts.append(f"cost ${escape(str(job.cost))}")
    elif job.quote is not None and job.quote.known and job.status != "failed":
        parts.append(escape(job.quote.describe()))
    return (
        badge(job.status, _STATE_COLOURS.get(job.status, "#57606a"))
        + f' <span style="color:#57606a;font-size:12px">{" · ".join(parts)}</span>'
    )


class ProgressCard:
    """Header, progress bar and status line for one job."""

    def __init__(self, job: Job, *, on_finish: Callable[[Job], None] | None = None) -> None:
        import ipywidgets as widgets

        self.job = job
        self.on_finish = on_finish
        self.header = widgets.HTML(self._header())
        self.bar = widgets.FloatProgress(
            value=0.0, min=0.0, max=1.0, bar_style="info",
            layout=widgets.Layout(width="100%", max_width="960px"),
        )
        self.status = widgets.HTML(status_line(job))
        self.widget = widgets.VBox(
            [self.header, self.bar, self.status],
            layout=widgets.Layout(border="1px solid #d0d7de", padding="4px 12px",
                                  max_width="960px"),
        )
        self.widget.add_class("kirin-card")
        self._task_shown = job.task_id
        self._handle: Any = None
        self._finished = False
        self._lock = threading.Lock()

    def _header(self) -> str:
        return header_html(self.job.model, self.job.prompt, simulated=self.job.simulated,
                           task_id=self.job.task_id)

    def show(self) -> None:
        """Display the card in the current cell and start following the job."""
        from IPython.display import display

        self._handle = display(self.widget, display_id=True)
        self.attach()

    def attach(self) -> None:
        """Follow the job without displaying the card (its owner shows ``self.widget``)."""
        self.job.add_listener(self.refresh)

    def refresh(self, job: Job) -> None:
        """Listener: called from the engine thread on every change and tick."""
        with self._lock:
            if self._finished:
                return
            if job.status not in ("completed", "failed"):
                with self.bar.hold_sync(), self.status.hold_sync():
                    self.bar.value = job.progress
                    self.status.value = status_line(job)
                if job.task_id != self._task_shown:
                    self._task_shown = job.task_id
                    self.header.value = self._header()
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

    def _finish(self) -> None:
        if self.job.task_id != self._task_shown:  # seen when the card stays (embedded)
            self._task_shown = self.job.task_id
            self.header.value = self._header()
        self.bar.value = 1.0
        self.bar.bar_style = "success" if self.job.status == "completed" else "danger"
        self.status.value = status_line(self.job)
        if self._handle is not None:
            self._handle.update(FinalView(self.job))
            self.widget.close()
