"""The compare views as static HTML: a before/after slider for two pictures, a strip for more.

The slider needs no script: the "before" picture sits in a box with CSS
``resize: horizontal; overflow: hidden`` laid over the "after" picture, and the browser's own
resize handle (at the foot of the dividing line, in a track under the pictures) drags it.
The before picture is as tall as the box and keeps its shape, so it is exactly as wide as
the after picture whatever the box's width, and the two stay lined up at any page width.

Both views are one-row tables, restyled into the slider or a wrapping strip. Where styles
are stripped (GitHub's notebook viewer) a table is still a table: the pictures stand side
by side, each under its label. JupyterLab's sanitiser (an untrusted notebook) keeps
``resize``, ``position`` and plain lengths but drops ``var()``, so every colour is said
plainly first (``theme.border``), then as the theme variable.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from . import theme
from .static import NO_MATH

if TYPE_CHECKING:
    from ..comparison import Shown

TRACK_PX = 18  # the strip under the pictures where the handle is
DIVIDER_PX = 3
STRIP_MAX = 1080  # px: as wide as the cards get
STRIP_MIN = 150  # px: a strip's narrowest picture; fewer per row below that
# Undo JupyterLab's output-table rules (.jp-RenderedHTMLCommon table/tr/td/th).
_RESET = "border:none;background:transparent;max-width:none;vertical-align:top;"
_ROOT = (f"font-family:{theme.FONT};font-size:12px;line-height:1.4;color:{theme.TEXT};"
         "margin:4px 0;box-sizing:border-box;min-width:0")
_TABLE = (f"display:block;{_RESET}border-collapse:collapse;margin:0;width:100%;"
          "table-layout:auto")


def _src(shown: Shown) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(shown.jpeg).decode("ascii")


def _label(text: str, title: str, align: str) -> str:
    return (f'<span class="kirin-compare-label" title="{escape(title)}" '
            f'style="color:{theme.TEXT};overflow-wrap:anywhere;text-align:{align}">'
            f"{escape(text)}</span>")


def _which(word: str) -> str:
    return (f'<b style="color:{theme.MUTED};font-weight:600;font-size:11px;'
            f'text-transform:uppercase;letter-spacing:0.04em">{word}</b>')


def slider_html(before: Shown, after: Shown, width: int) -> str:
    """Two pictures of one shape: drag the line to show more of one or the other."""
    shown_width = min(width, before.width)
    half = max(1, shown_width // 2)  # each picture's width where styles are stripped
    head = (f'<th style="display:block;{_RESET}padding:0 0 4px;text-align:{{align}};'
            f'font-weight:normal;min-width:0;flex:1 1 0">{{body}}</th>')
    labels = (
        head.format(align="left", body=f"{_which('◀ before')} "
                    + _label(before.label, before.title, "left"))
        + head.format(align="right", body=_label(after.label, after.title, "right")
                      + f" {_which('after ▶')}")
    )
    before_box = (
        f"display:block;position:absolute;top:0;bottom:0;left:0;z-index:1;width:50%;"
        f"min-width:24px;max-width:100%;resize:horizontal;overflow:hidden;"
        f"box-sizing:border-box;padding:0 0 {TRACK_PX}px;margin:0;border:none;"
        f"background:{theme.TRACK};"
        + theme.border(theme.ACCENT, "border-right", f"{DIVIDER_PX}px")
    )
    track_edge = theme.border(theme.BORDER_SOFT, "border-bottom")
    return (
        f'<div class="kirin-compare kirin-compare-slider {NO_MATH}" '
        f'style="{_ROOT};max-width:{shown_width}px">'
        f'<table class="kirin-compare-table" style="{_TABLE}">'
        f'<thead style="display:block;{_RESET}"><tr style="display:flex;gap:12px;'
        f'align-items:flex-end;{_RESET}">{labels}</tr></thead>'
        f'<tbody style="display:block;{_RESET}">'
        f'<tr class="kirin-compare-stage" style="display:block;position:relative;'
        f'padding:0 0 {TRACK_PX}px;line-height:0;{_RESET}{track_edge}">'
        f'<td class="kirin-compare-before" style="{before_box}">'
        f'<img src="{_src(before)}" alt="before: {escape(before.label)}" width="{half}" '
        'style="display:block;height:100%;width:auto;max-width:none;margin:0"></td>'
        f'<td class="kirin-compare-after" style="display:block;padding:0;margin:0;{_RESET}">'
        f'<img src="{_src(after)}" alt="after: {escape(after.label)}" width="{half}" '
        'style="display:block;width:100%;height:auto;max-width:100%;margin:0"></td>'
        "</tr></tbody></table>"
        f'<div class="kirin-compare-hint" style="color:{theme.MUTED};font-size:11px;'
        'margin-top:3px;overflow-wrap:anywhere">drag the handle ◢ at the foot of the line to '
        "show more of either picture</div></div>"
    )


def strip_html(shown: Sequence[Shown], *, note: str = "") -> str:
    """Three pictures or more (or two of different shapes), side by side with labels, in
    equal columns that wrap onto more rows in a narrow window."""
    side = max(s.width for s in shown)
    cells = "".join(
        f'<td class="kirin-compare-item" style="display:block;min-width:0;'
        f'padding:0;margin:0;text-align:left;{_RESET}">'
        f'<img src="{_src(s)}" alt="{escape(s.label)}" width="{min(s.width, 200)}" '
        'style="display:block;width:100%;height:auto;max-width:100%;margin:0;'
        'border-radius:4px">'
        f'<div style="margin-top:3px;font-size:12px">{_label(s.label, s.title, "left")}'
        "</div></td>"
        for s in shown
    )
    note_html = (f'<div class="kirin-compare-hint" style="color:{theme.MUTED};font-size:11px;'
                 f'margin-top:4px">{escape(note)}</div>') if note else ""
    most = min(STRIP_MAX, len(shown) * side + (len(shown) - 1) * 8)
    return (
        f'<div class="kirin-compare kirin-compare-strip {NO_MATH}" '
        f'style="{_ROOT};max-width:{most}px">'
        f'<table class="kirin-compare-table" style="{_TABLE}">'
        f'<tbody style="display:block;{_RESET}"><tr style="display:grid;'
        f'grid-template-columns:repeat(auto-fit,minmax({STRIP_MIN}px,1fr));gap:8px;'
        f'{_RESET}">{cells}</tr></tbody></table>{note_html}</div>'
    )
