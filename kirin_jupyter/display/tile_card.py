"""A finished card whose picture tiles take stars, picks and rejects while the kernel lives
(a job's gallery, a batch's page, a sweep's grid), and beside it, in an output of its own,
the same card as static HTML with the marks as they stand: what a saved notebook shows.

Why two outputs and not the widget's own ``text/html``: JupyterLab draws a saved widget
output whose model is gone as "Error displaying widget: model not found" and never falls
back to another type in that output, and that is what the author sees on opening their own
(trusted) notebook again. So, as the panel does (``panel/saved.py``), the widget's output
carries no picture of its own and the copy follows it, with a style rule that hides the
copy while the widget is drawn and hides the widget's error line where it cannot be.
Untrusted (no ``<style>``), nbconvert, GitHub and nbviewer show the copy alone. Each
click updates the copy, so what is saved is what was marked.

A live card turns into this in place (``replace``): its widget becomes the finished card
and the place its cell kept after it (``placeholder``) becomes the copy. A card shown
when its work is already done shows both at once (``show``).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Any

from .live_view import LiveView
from .tile_marks import Tiles

# What a cell shows after a live card until it ends: nothing, in an output the copy takes.
PLACEHOLDER: dict[str, str] = {"text/plain": ""}


def saved_copy(key: str, html: str) -> str:
    """``html`` as the copy beside widget ``key``: hidden while the widget is drawn; where
    it cannot be (JupyterLab, Notebook 7), the widget's error line before it is hidden."""
    live, copy = f"kt-{key}", f"kc-{key}"  # short: repeated in every saved card
    style = (
        "<style>"
        f"body:has(.{live}) .{copy}{{display:none}}"
        f".jp-OutputArea-child:has(+.jp-OutputArea-child .{copy}):not(:has(.{live})),"
        f".output_area:has(+.output_area .{copy}):not(:has(.{live})){{display:none}}"
        "</style>"
    )
    return f'{style}<div class="kirin-copy {copy}">{html}</div>'


def placeholder() -> Any:
    """Shown under a live card in its cell, for the copy to take when the card ends: a
    display handle (the engine thread cannot add an output to a cell that has ended)."""
    from IPython.display import display

    return display(PLACEHOLDER, raw=True, display_id=True)  # type: ignore[no-untyped-call]


class TileCard:
    """The finished card as a widget with buttons on its tiles, and its static copy."""

    def __init__(self, tiles: Tiles, frame: str, text: str, widget: LiveView) -> None:
        self.tiles, self.text, self.widget = tiles, text, widget
        self.key = secrets.token_hex(4)
        self._copy: Any = None  # the copy's display handle, once shown
        # The engine thread sends the copy once (replace), clicks on the main thread after:
        # one at a time, so an older copy never arrives last.
        self._lock = threading.Lock()
        with widget.hold_sync():
            widget.cancellable = False
            widget.note = ""
            widget.show(frame)
            widget.marks = self._states()
            widget._dom_classes = ("kirin-tiles", f"kt-{self.key}")
        widget.apart = True
        widget.on_mark = self._clicked

    @classmethod
    def drawn(cls, draw: Callable[[Tiles], str], text: str,
              widget: LiveView | None = None) -> TileCard | None:
        """The card ``draw`` makes with live tiles, in ``widget`` (a new one when None);
        None when it has no picture to mark (a failure, videos only): then nothing is
        changed and the static view is the whole answer."""
        tiles = Tiles(live=True)
        frame = draw(tiles)
        if not tiles.files:
            return None
        return cls(tiles, frame, text, widget if widget is not None else new_widget())

    def copy(self) -> dict[str, str]:
        """The copy's output: the card as the widget shows it, as static HTML, and its text."""
        return {"text/html": saved_copy(self.key, self.widget.html), "text/plain": self.text}

    def show(self) -> None:
        """In the current cell, from the main thread: the widget, then its copy."""
        from IPython.display import display

        display(self.widget)  # type: ignore[no-untyped-call]
        with self._lock:
            self._copy = display(self.copy(), raw=True,  # type: ignore[no-untyped-call]
                                 display_id=True)

    def replace(self, card: Any, place: Any) -> None:
        """Where a live card was: its output (``card``, a display handle) shows this widget
        now, and the place kept after it (``place``) the copy. Safe to send again."""
        with self._lock:
            self._copy = place
            card.update(self.widget)
            place.update(self.copy(), raw=True)

    def _clicked(self, content: Any) -> str | None:
        """A message from a tile's button: marked (then the buttons and the copy show the
        journal's marks), refused, or not a click at all (None: nothing changes)."""
        said = self.tiles.click(content)
        if said is None:
            return None
        with self._lock:
            self.widget.marks = self._states()
            if self._copy is not None:
                self._copy.update(self.copy(), raw=True)
        return said

    def _states(self) -> list[list[Any]]:
        return [[rating, flag] for rating, flag in self.tiles.states()]


def new_widget() -> LiveView:
    """A widget for a card shown when its work is done (no live card to turn into one)."""
    import ipywidgets as widgets

    return LiveView(layout=widgets.Layout(width="100%", margin="0", padding="0 20px 0 0"))


def show_finished(draw: Callable[[Tiles], str], text: str,
                  static: Callable[[], dict[str, str]]) -> TileCard | None:
    """A view whose work is done, in the current cell: with buttons on its pictures (the
    card returned), or as ``static()`` (its mime bundle) when it has none."""
    card = TileCard.drawn(draw, text)
    if card is not None:
        card.show()
        return card
    from IPython.display import display

    display(static(), raw=True)  # type: ignore[no-untyped-call]
    return None
