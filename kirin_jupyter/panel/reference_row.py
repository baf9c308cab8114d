"""One reference image on screen: thumbnail, size, badge and the actions that apply to it."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from ..display import theme
from .grid import button_layout, grow
from .references import Reference
from .style import note, ok_badge, problem_badge, show
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
        side = "72px"  # shown smaller than the thumbnail, which stays sharp on HiDPI
        thumb = jpeg_of_bytes(ref.data, REFERENCE_SIDE) if ref.data else b""
        self.thumbnail = w.Image(value=thumb, format="jpeg", layout=w.Layout(
            width=side, height=side, object_fit="contain", flex="none",
            border=f"1px solid {theme.BORDER_SOFT}"))
        self.url_icon = w.HTML(
            f'<div style="width:{side};height:{side};display:flex;align-items:center;'
            f'justify-content:center;box-sizing:border-box;border:1px solid {theme.BORDER};'
            f'color:{theme.MUTED}">URL</div>', layout=w.Layout(flex="none"))
        show(self.thumbnail, bool(thumb))
        show(self.url_icon, not thumb)
        self.title = w.HTML()
        self.size = w.HTML(note(ref.size_text()))
        self.badge = w.HTML(self._badges(ref))
        self.badge.add_class("kirin-badge")

        self.fit = w.Button(description="fit", tooltip="mend: convert, pad, enlarge or "
                            "re-encode so the image meets every rule", layout=button_layout(),
                            icon="wrench")
        self.up = w.Button(description="↑", tooltip="move up", layout=button_layout())
        self.down = w.Button(description="↓", tooltip="move down", layout=button_layout())
        self.insert = w.Button(tooltip="add this image's placeholder to the end of the prompt",
                               layout=button_layout())
        self.remove = w.Button(description="remove", layout=button_layout())
        show(self.fit, ref.can_fit)
        self.fit.on_click(lambda _b: on_fit(self.key))
        self.remove.on_click(lambda _b: on_remove(self.key))
        self.up.on_click(lambda _b: on_move(self.key, -1))
        self.down.on_click(lambda _b: on_move(self.key, 1))
        self.insert.on_click(lambda _b: on_insert(self.key))
        info = w.VBox([self.title, self.size, self.badge], layout=grow("160px"))
        actions = w.HBox([self.fit, self.insert, self.up, self.down, self.remove],
                         layout=w.Layout(flex_flow="row wrap", align_items="center",
                                         flex="0 1 auto", min_width="0"))
        self.widget = w.HBox([self.thumbnail, self.url_icon, info, actions],
                             layout=w.Layout(align_items="center", flex_flow="row wrap",
                                             border_bottom=f"1px solid {theme.BORDER_SOFT}",
                                             padding="4px 0"))
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
