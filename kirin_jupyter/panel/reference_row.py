"""One reference image on screen: thumbnail, size, badge and the actions that apply to it."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

from .references import Reference
from .style import GREY, note, ok_badge, problem_badge, show
from .thumbs import REFERENCE_SIDE, jpeg_of_bytes

Action = Callable[[int], None]  # called with the reference's key

_ORIGIN_TEXT = {
    "upload": "uploaded", "path": "file", "url": "URL", "variable": "variable",
    "result": "earlier result",
}


class ReferenceRow:
    """Widgets for one ``Reference``; ``update`` re-labels it when the list changes."""

    def __init__(self, ref: Reference, *, on_fit: Action, on_remove: Action,
                 on_move: Callable[[int, int], None], on_insert: Action) -> None:
        import ipywidgets as w

        self.key = ref.key
        side = f"{REFERENCE_SIDE}px"
        thumb = jpeg_of_bytes(ref.data, REFERENCE_SIDE) if ref.data else b""
        self.thumbnail = w.Image(value=thumb, format="jpeg", layout=w.Layout(
            width=side, height=side, object_fit="contain", border="1px solid #d0d7de"))
        self.url_icon = w.HTML(
            f'<div style="width:{side};height:{side};display:flex;align-items:center;'
            f'justify-content:center;border:1px solid #d0d7de;color:{GREY}">URL</div>')
        show(self.thumbnail, bool(thumb))
        show(self.url_icon, not thumb)
        self.title = w.HTML()
        self.size = w.HTML(note(ref.size_text()))
        self.badge = w.HTML(self._badges(ref))
        self.badge.add_class("kirin-badge")

        def small() -> Any:  # a Layout each: hiding one button must not hide the others
            return w.Layout(width="auto")

        self.fit = w.Button(description="fit", tooltip="mend: convert, pad, enlarge or "
                            "re-encode so the image meets every rule", layout=small(),
                            button_style="warning")
        self.up = w.Button(description="↑", tooltip="move up", layout=small())
        self.down = w.Button(description="↓", tooltip="move down", layout=small())
        self.insert = w.Button(tooltip="add this image's placeholder to the end of the prompt",
                               layout=small())
        self.remove = w.Button(description="remove", layout=small())
        show(self.fit, ref.can_fit)
        self.fit.on_click(lambda _b: on_fit(self.key))
        self.remove.on_click(lambda _b: on_remove(self.key))
        self.up.on_click(lambda _b: on_move(self.key, -1))
        self.down.on_click(lambda _b: on_move(self.key, 1))
        self.insert.on_click(lambda _b: on_insert(self.key))
        info = w.VBox([self.title, self.size, self.badge],
                      layout=w.Layout(flex="1 1 auto", min_width="0"))
        actions = w.HBox([self.fit, self.insert, self.up, self.down, self.remove],
                         layout=w.Layout(flex_flow="row wrap", align_items="center"))
        self.widget = w.HBox([self.thumbnail, self.url_icon, info, actions],
                             layout=w.Layout(align_items="center", border_bottom="1px solid "
                                             "#eaeef2", padding="4px 0", width="100%"))
        self.widget.add_class("kirin-reference")

    @staticmethod
    def _badges(ref: Reference) -> str:
        if ref.ok:
            mended = f' {note("mended: " + ref.mended)}' if ref.mended else ""
            return ok_badge() + mended
        return " ".join(problem_badge(p) for p in ref.problems)

    def update(self, ref: Reference, number: int, count: int, placeholders: bool) -> None:
        """Number, origin and which actions apply, after any change to the list."""
        self.title.value = (f"<b>{number}.</b> {escape(ref.label)} "
                            + note(f"({_ORIGIN_TEXT[ref.origin]})"))
        self.up.disabled = number == 1
        self.down.disabled = number == count
        show(self.up, count > 1)
        show(self.down, count > 1)
        self.insert.description = f"insert <<<image_{number}>>>"
        show(self.insert, placeholders)
