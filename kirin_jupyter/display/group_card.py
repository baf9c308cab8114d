"""The live card of many jobs shown as one (a batch, a sweep), and the views that replace
it: one live widget (``live_view.LiveView``, all frame) the engine thread redraws while the
group runs. At the end the widget becomes the finished card with buttons on its pictures,
and the empty output shown after it the card's static copy (``tile_card.py``); a group
with no picture (all failed) ends as static HTML, and its widget is emptied and closed, so
no dead widget state is saved with the notebook. In marimo (no display handle)
``in_place()`` returns the widget, which turns into the static view itself at the end."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # widgets (and so IPython) only once a card is shown
    from .tile_card import TileCard
    from .tile_marks import Tiles

Draw = Callable[..., str]  # (group, final, tiles=None) -> HTML
Text = Callable[[Any], str]  # group -> plain text


class FinalGroupView:
    """What replaces the live card when the group ends (HTML, with a text fallback)."""

    def __init__(self, group: Any, draw: Draw, text: Text) -> None:
        self._group, self._draw, self._text = group, draw, text

    def _repr_mimebundle_(self, **_: Any) -> dict[str, str]:
        return {"text/html": self._draw(self._group, True),
                "text/plain": self._text(self._group)}


def final_tiles(group: Any, draw: Draw, text: Text, widget: Any = None) -> TileCard | None:
    """The group's finished card with buttons on its pictures (in ``widget``, or a new
    one); None when it has none to mark."""
    from .tile_card import TileCard

    def drawn(tiles: Tiles) -> str:
        return draw(group, True, tiles)

    return TileCard.drawn(drawn, text(group), widget)


class GroupCard:
    """The live card; ``final`` makes the static view that replaces it where there is no
    picture to mark."""

    def __init__(self, group: Any, draw: Draw, final: Callable[[Any], Any],
                 text: Text) -> None:
        import ipywidgets as widgets

        from .live_view import LiveView

        self._draw, self._final, self._text = draw, final, text
        self.widget = LiveView.drawn(draw(group, False), layout=widgets.Layout(
            width="100%", margin="0", padding="0 20px 0 0"))
        self._group = group
        self._handle: Any = None
        self._place: Any = None  # the output after the card, for the finished card's copy
        self._tiles: TileCard | None = None
        self._static = False  # ended as static HTML (the widget closed)
        self._in_place = False
        self._finished = False
        self._lock = threading.Lock()

    def show(self) -> None:
        from IPython.display import display

        from .tile_card import placeholder

        self._handle = display(self.widget, display_id=True)
        self._place = placeholder()
        from .shown import remember

        remember(self, self._group.done)
        self._group.add_listener(self.refresh)

    def in_place(self) -> Any:
        """The widget, following the group; at the end it shows the static view."""
        self._in_place = True
        self._group.add_listener(self.refresh)
        return self.widget

    def refresh(self, group: Any) -> None:
        """Listener, on the engine thread: redraw; at the end, the finished views."""
        with self._lock:
            if self._finished:
                return
            if not group.done():
                self.widget.show(self._draw(group, False))
                return
            self._finished = True
            if self._in_place:
                self.widget.show(self._draw(group, True))
                return
            if self._handle is not None:
                self._send_final()
                return
        self.widget.clear()  # never shown: as ProgressCard.retire, no dead HTML saved
        self.widget.close()

    def settle(self) -> None:
        """The finished views sent (again) from this thread: ``%kirin wait`` does, from its
        cell, so a headless run saves them whatever the engine thread has sent so far."""
        with self._lock:
            self._finished = True
            self._send_final()

    def _send_final(self) -> None:
        """The caller holds the lock."""
        if self._tiles is None and not self._static:
            self._tiles = final_tiles(self._group, self._draw, self._text, self.widget)
        if self._tiles is not None:
            self._tiles.replace(self._handle, self._place)
            return
        self._static = True
        self._handle.update(self._final(self._group))
        self.widget.clear()  # as ProgressCard.retire: no dead HTML in saved state
        self.widget.close()
