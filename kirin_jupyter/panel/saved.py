"""What a saved notebook shows where the panel was, to a reader without its kernel.

JupyterLab draws a saved widget output with no live kernel as "Error displaying widget:
model not found", and never falls back to another type in that output. So the panel comes
with a second output: plain HTML under a display id, replaced with the results of its runs
each time one ends (``result_html``, the same static card a finished ``%%kirin`` leaves).

While the panel is alive, a style rule in that HTML hides it (no results twice), and where
the panel cannot be drawn it hides the widget's error line before it. A front end that
drops the ``<style>`` (an untrusted notebook) shows both, the results still readable.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from ..display import theme
from ..display.static import result_html

if TYPE_CHECKING:
    from ..engine.job import Job

MAX_SAVED_RUNS = 6  # each carries small JPEG thumbnails; older runs are in %kirin history


def panel_class(key: str) -> str:
    """The class the live panel carries, which the saved copy looks for."""
    return f"kirin-panel-{key}"


def saved_html(key: str, jobs: Sequence[Job]) -> str:
    """The results of ``jobs`` (oldest first), newest on top, as self-contained HTML."""
    live, saved = panel_class(key), f"kirin-saved-{key}"
    style = (
        "<style>"
        f"body:has(.{live}) .{saved}{{display:none}}"
        f".jp-OutputArea-child:has(+ .jp-OutputArea-child .{saved}):not(:has(.{live})),"
        f".output_area:has(+ .output_area .{saved}):not(:has(.{live})){{display:none}}"
        "</style>"
    )
    shown = list(reversed(jobs))[:MAX_SAVED_RUNS]
    parts = []
    for job in shown:
        if job.result is not None:
            parts.append(result_html(job.result))
        elif job.status == "failed":
            parts.append(_line(f"A run failed: {job.error}"))
    hidden = len(jobs) - len(shown)
    if not jobs:
        intro = "Kirin panel: no runs yet"
    else:
        some = (f"its last {len(shown)} of {len(jobs)} runs" if hidden
                else f"its {len(jobs)} run{'s' if len(jobs) != 1 else ''}")
        intro = f"Kirin panel: the results of {some}, as saved"
    intro += " (run the cell with a kernel to use the panel)."
    return (f'{style}<div class="kirin-saved {saved}" style="font-family:{theme.FONT};'
            f'color:{theme.TEXT};max-width:960px">{_line(intro)}{"".join(parts)}</div>')


def _line(text: str) -> str:
    return f'<div style="color:{theme.MUTED};font-size:12px;margin:4px 0">{escape(text)}</div>'


class SavedCopy:
    """The second output: shown with the panel, updated (from any thread) as runs end."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.display_id = f"kirin-panel-saved-{key}"
        self._shown = False

    def show(self, jobs: Sequence[Job]) -> None:
        from IPython.display import display

        display({"text/html": saved_html(self.key, jobs)},  # type: ignore[no-untyped-call]
                raw=True, display_id=self.display_id)
        self._shown = True

    def update(self, jobs: Sequence[Job]) -> None:
        if not self._shown:
            return
        from IPython.display import update_display

        update_display(  # type: ignore[no-untyped-call]
            {"text/html": saved_html(self.key, jobs)}, raw=True, display_id=self.display_id)
