"""The panel's compare action: pick two result tiles, press Compare, see the slider.

Each tile has a "pick" toggle; two picks enable Compare, and a third pick lets go of the
oldest, so the choice is always the last two. The view is ``compare()``'s static HTML in an
HTML widget, the same markup a notebook cell would show.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from .grid import button_layout
from .style import BAD, note, show


class ComparePicker:
    """The picked tiles' files (at most two, oldest first), the Compare button and the view."""

    def __init__(self, lock: threading.RLock) -> None:
        import ipywidgets as w

        self._lock = lock
        self._picked: list[tuple[Any, Path]] = []  # (toggle, file)
        self.button = w.Button(description="Compare", icon="columns", disabled=True,
                               tooltip="pick two results (their 'pick' toggles) to compare",
                               layout=button_layout())
        self.button.on_click(lambda _b: self.compare())
        self.hint = w.HTML(note("pick 2 more results to compare"))
        self.view = w.HTML()
        self.view.add_class("kirin-compare-view")
        close = w.Button(description="close", layout=button_layout())
        close.on_click(lambda _b: show(self.area, False))
        self.area: Any = w.VBox([w.HBox([self.view, close], layout=w.Layout(
            flex_flow="row wrap", align_items="flex-start"))])
        show(self.area, False)
        self.bar: Any = w.HBox([self.button, self.hint], layout=w.Layout(
            flex_flow="row wrap", align_items="center"))
        show(self.bar, False)  # until a run has results to pick from
        self.widget = w.VBox([self.bar, self.area])

    @property
    def picked(self) -> list[Path]:
        with self._lock:
            return [path for _, path in self._picked]

    def offer(self) -> None:
        """Results exist: show the Compare bar."""
        show(self.bar, True)

    def toggled(self, toggle: Any, path: Path | None, picked: bool) -> None:
        """A tile's pick toggle changed (a button callback)."""
        with self._lock:
            self._picked = [(t, p) for t, p in self._picked if t is not toggle]
            if picked and path is not None:
                self._picked.append((toggle, path))
                while len(self._picked) > 2:
                    oldest, _ = self._picked.pop(0)
                    oldest.value = False  # its own callback finds it gone already
            self._refresh()

    def drop(self, toggles: list[Any]) -> None:
        """Tiles left the panel: forget their picks."""
        with self._lock:
            self._picked = [(t, p) for t, p in self._picked if t not in toggles]
            self._refresh()

    def _refresh(self) -> None:
        count = len(self._picked)
        self.button.disabled = count != 2
        self.hint.value = note(
            "compare the two picked results" if count == 2
            else f"pick {2 - count} more result{'s' if count == 0 else ''} to compare")

    def compare(self) -> str | None:
        """Show the picked pair as the slider (or side by side if their shapes differ)."""
        from ..display.comparison import compare
        from ..errors import KirinError

        with self._lock:
            paths = [path for _, path in self._picked]
        if len(paths) != 2:
            return None
        try:
            html = compare(*paths)._repr_html_()
        except KirinError as exc:  # a file deleted since it was shown
            self.hint.value = note(f"cannot compare: {exc}", BAD)
            return None
        with self._lock:
            self.view.value = html
            show(self.area, True)
        return html
