"""The panel's runs: one progress card per job (newest first) and what they cost.

Cards are the magic's ``ProgressCard`` embedded with ``attach()``; when a job ends the engine
thread calls back here, and this only sets widget values (no display(), no new widgets).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..display.card import ProgressCard
from .style import BAD, note

if TYPE_CHECKING:
    from ..client import Client
    from ..job import Job


class JobsSection:
    """Cards for the jobs started from the panel, and the running cost."""

    def __init__(self, client: Client, lock: threading.RLock) -> None:
        import ipywidgets as w

        self._client = client
        self._lock = lock
        self._jobs: list[Job] = []
        self._errors: dict[str, Any] = {}
        self.totals = w.HTML()
        self.totals.add_class("kirin-totals")
        self.cards = w.VBox([])
        self.widget = w.VBox([w.HTML("<b>Runs</b>"), self.totals, self.cards])
        self.widget.add_class("kirin-jobs")
        self._update_totals()

    def add(self, job: Job, on_finish: Callable[[Job], None]) -> ProgressCard:
        """A card for a new job; the caller attaches it once it has released its lock."""
        import ipywidgets as w

        card = ProgressCard(job, on_finish=on_finish)
        error = w.HTML()
        with self._lock:
            self._jobs.append(job)
            self._errors[job.external_task_id] = error
            self.cards.children = (w.VBox([card.widget, error]), *self.cards.children)
            self._update_totals()
        return card

    def refresh_totals(self) -> None:
        """Any session job ended (a magic's, the Python API's): the session total moves."""
        with self._lock:
            self._update_totals()

    def finished(self, job: Job) -> None:
        """Engine thread: the failure's message under its card, and the new totals."""
        with self._lock:
            if job.status == "failed":
                self._errors[job.external_task_id].value = note(str(job.error), BAD)
            self._update_totals()

    def _update_totals(self) -> None:
        jobs = list(self._jobs)
        if not jobs:
            self.totals.value = note("No runs yet. Each run gets a card here with its "
                                     "progress and, when it is done, its cost.")
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
