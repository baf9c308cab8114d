"""The live card of many jobs shown as one (a batch, a sweep), and the static view that
replaces it: one live widget (``live_view.LiveView``, all frame) the engine thread redraws
while the group runs; at the end
the output is updated to static HTML and the widget is emptied and closed, so no dead
widget state is saved with the notebook. In marimo (no display handle) ``in_place()``
returns the widget, which turns into the static view itself at the end."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

Draw = Callable[[Any, bool], str]  # (group, final) -> HTML
Text = Callable[[Any], str]  # group -> plain text


class FinalGroupView:
    """What replaces the live card when the group ends (HTML, with a text fallback)."""

    def __init__(self, group: Any, draw: Draw, text: Text) -> None:
        self._group, self._draw, self._text = group, draw, text

    def _repr_mimebundle_(self, **_: Any) -> dict[str, str]:
        return {"text/html": self._draw(self._group, True),
                "text/plain": self._text(self._group)}


class GroupCard:
    """The live card; ``final`` makes the view that replaces it."""

    def __init__(self, group: Any, draw: Draw, final: Callable[[Any], Any]) -> None:
        import ipywidgets as widgets

        from .live_view import LiveView

        self._draw, self._final = draw, final
        self.widget = LiveView.drawn(draw(group, False), layout=widgets.Layout(
            width="100%", margin="0", padding="0 20px 0 0"))
        self._group = group
        self._handle: Any = None
        self._in_place = False
        self._finished = False
        self._lock = threading.Lock()

    def show(self) -> None:
        from IPython.display import display

        self._handle = display(self.widget, display_id=True)
        from .shown import remember

        group = self._group
        remember(self, self._handle, group.done, lambda: self._final(group))
        self._group.add_listener(self.refresh)

    def in_place(self) -> Any:
        """The widget, following the group; at the end it shows the static view."""
        self._in_place = True
        self._group.add_listener(self.refresh)
        return self.widget

    def refresh(self, group: Any) -> None:
        """Listener, on the engine thread: redraw; at the end, the static view."""
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
            self._handle.update(self._final(group))
        self.widget.clear()  # as ProgressCard.retire: no dead HTML in saved state
        self.widget.close()
