"""The panel's runs: the newest one open, older ones folded, and what they all cost.

Each run is its progress card (the magic's ``ProgressCard``, followed with ``attach()``),
the reason under it if it failed, and its result tiles. The newest run is shown in full;
when another starts it moves into an accordion of older runs, one line each until opened,
and only the last ``MAX_OLDER`` are kept there, so the panel's height stays bounded however
many runs are made. When a job ends the engine thread calls back here, and this only sets
widget values (no display(), no new widgets).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..display.card import ProgressCard
from .style import BAD, note, show

if TYPE_CHECKING:
    from ..client import Client
    from ..engine.job import Job

MAX_OLDER = 8


class RunView:
    """One run on screen: card, failure message, result grid."""

    def __init__(self, number: int, job: Job, card: ProgressCard, results: Any) -> None:
        import ipywidgets as w

        self.number = number
        self.job = job
        self.card = card
        self.error = w.HTML()
        show(self.error, False)  # an empty line would open a gap under the card
        self.widget = w.VBox([card.widget, self.error, results])
        self.widget.add_class("kirin-run")

    def title(self) -> str:
        """One short line (an accordion title never wraps): number, state, size, cost."""
        job = self.job
        n = job.request.images_expected
        parts = [f"Run {self.number}", job.status, f"{n} image{'s' if n != 1 else ''}"]
        if job.cost is not None:
            parts.append(f"${job.cost}")
        return " · ".join(parts)


class JobsSection:
    """Runs started from the panel, newest first, around the gallery's tools."""

    def __init__(self, client: Client, lock: threading.RLock, tools: Any) -> None:
        import ipywidgets as w

        self._client = client
        self._lock = lock
        self._jobs: list[Job] = []
        self._views: dict[str, RunView] = {}
        self._latest: RunView | None = None
        self._older: list[RunView] = []
        self._dropped = 0
        self.totals = w.HTML()
        self.totals.add_class("kirin-totals")
        self.latest = w.VBox([])
        self.latest.add_class("kirin-latest")
        self.older = w.Accordion([], selected_index=None)
        self.older.add_class("kirin-older-runs")
        self.older_heading = w.HTML()
        self.older_box = w.VBox([self.older_heading, self.older])
        show(self.older_box, False)
        self.widget = w.VBox([w.HTML("<b>Runs</b>"), self.totals, self.latest, tools,
                              self.older_box])
        self.widget.add_class("kirin-jobs")
        self._update_totals()

    def add(self, job: Job, on_finish: Callable[[Job], None], results: Any
            ) -> tuple[ProgressCard, list[Job]]:
        """Show a new run on top; the card to attach, and runs that no longer fit.

        The caller attaches the card once it has released its lock, and forgets the
        dropped runs' tiles.
        """
        card = ProgressCard(job, on_finish=on_finish)
        with self._lock:
            self._jobs.append(job)
            view = RunView(len(self._jobs), job, card, results)
            self._views[job.external_task_id] = view
            if self._latest is not None:
                self._older.insert(0, self._latest)
            self._latest = view
            self.latest.children = (view.widget,)
            dropped = self._older[MAX_OLDER:]
            del self._older[MAX_OLDER:]
            self._dropped += len(dropped)
            for old in dropped:
                del self._views[old.job.external_task_id]
                close_tree(old.widget)
            self.older.selected_index = None
            self.older.children = tuple(v.widget for v in self._older)
            self._show_older()
            self._update_totals()
        return card, [old.job for old in dropped]

    def view(self, job: Job) -> RunView | None:
        with self._lock:
            return self._views.get(job.external_task_id)

    def refresh_totals(self) -> None:
        """Any session job ended (a magic's, the Python API's): the session total moves."""
        with self._lock:
            self._update_totals()

    def finished(self, job: Job) -> None:
        """Engine thread: the failure's message under its card, titles and totals."""
        with self._lock:
            view = self._views.get(job.external_task_id)
            if view is not None and job.status == "failed":
                view.error.value = note(str(job.error), BAD)
                show(view.error, True)
            self._show_older()
            self._update_totals()

    def _show_older(self) -> None:
        self.older.titles = tuple(v.title() for v in self._older)
        count = len(self._older)
        dropped = (f"; {self._dropped} earlier not shown (%kirin history lists every job)"
                   if self._dropped else "")
        self.older_heading.value = note(
            f"{count} older run{'s' if count != 1 else ''}, folded: click one to open it"
            + dropped)
        show(self.older_box, count > 0)

    def _update_totals(self) -> None:
        jobs = list(self._jobs)
        if not jobs:
            self.totals.value = note("No runs yet. Each run gets a card here with its "
                                     "progress and, when it is done, its cost and images.")
            return
        running = sum(1 for j in jobs if j.status not in ("completed", "failed"))
        failed = sum(1 for j in jobs if j.status == "failed")
        done = [j for j in jobs if j.status == "completed"]
        spent = sum((j.cost for j in done if j.cost is not None), Decimal(0))
        unknown = sum(1 for j in done if j.cost is None)
        parts = [f"{len(jobs)} run{'s' if len(jobs) != 1 else ''}: {running} running, "
                 f"{len(done)} done" + (f", {failed} failed" if failed else "")]
        parts.append(f"cost ${spent} in this panel"
                     + (f" ({unknown} without a reported cost)" if unknown else ""))
        parts.append(f"session total ${self._client.session_spend()}")
        self.totals.value = note(" · ".join(parts))


def close_tree(widget: Any) -> None:
    """Close a widget and everything inside it (a box's close() leaves its children open)."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
    widget.close()
