"""Compact themed tables, as HTML and as aligned plain text, for the ``%kirin`` listings.

JupyterLab styles every output table (right-aligned, centred, ``table-layout: fixed``,
wrapping cells, striped rows); the inline styles here undo that, so a listing reads left
to right, one line per row, in any theme. The text form is what a terminal shows.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from . import theme

# Undo JupyterLab's table rules (.jp-RenderedHTMLCommon table/td/tr) for our tables.
TABLE_STYLE = (
    "border-collapse:collapse;border-spacing:0;border:none;table-layout:auto;width:auto;"
    f"margin:0;color:{theme.TEXT};font-size:12px;line-height:1.35"
)
ROW_STYLE = "background:transparent"
CELL_STYLE = (
    "text-align:left;vertical-align:middle;white-space:nowrap;padding:3px 10px 3px 0;"
    f"border:none;{theme.border(theme.BORDER_SOFT, 'border-bottom')}max-width:none;"
    f"color:{theme.TEXT}"
)
HEAD_STYLE = (
    "text-align:left;vertical-align:bottom;white-space:nowrap;padding:2px 10px 3px 0;"
    f"border:none;{theme.border(theme.BORDER, 'border-bottom')}color:{theme.MUTED};"
    "font-weight:600;font-size:11px"
)
BOX_STYLE = (
    f"font-family:{theme.FONT};color:{theme.TEXT};font-size:12px;max-width:100%;"
    "overflow-x:auto;margin:2px 0;text-align:left"
)
NOTE_STYLE = f"color:{theme.MUTED};font-size:11px;margin-top:4px;white-space:normal"


def cut(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters, ending in an ellipsis when cut."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: max(0, limit - 1)].rstrip() + "…"


def short_id(ident: str, head: int = 4, tail: int = 6) -> str:
    """'1234567890123456789' -> '1234…456789': ids often share a long prefix, so the end
    is kept; the full id is in the cell's title and in the text table."""
    return ident if len(ident) <= head + tail + 2 else f"{ident[:head]}…{ident[-tail:]}"


def muted(text: str) -> str:
    return f'<span style="color:{theme.MUTED}">{escape(text)}</span>'


def mono(text: str, *, title: str = "") -> str:
    hint = f' title="{escape(title)}"' if title else ""
    return f'<span{hint} style="font-family:{theme.MONO};font-size:11px">{escape(text)}</span>'


@dataclass(frozen=True)
class Cell:
    """A cell's HTML (already escaped) and its plain text."""

    html: str
    text: str


def plain(text: str, *, title: str = "") -> Cell:
    hint = f' title="{escape(title)}"' if title else ""
    return Cell(f"<span{hint}>{escape(text)}</span>" if hint else escape(text), text)


def html_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, note: str = "",
               css_class: str = "kirin-table") -> str:
    """A left-aligned table as wide as its content, whose cells never wrap; ``note``
    (plain text) goes under it. A window too narrow for it scrolls it sideways."""
    head = "".join(f'<th style="{HEAD_STYLE}">{escape(h)}</th>' for h in headers)
    body = "".join(
        f'<tr style="{ROW_STYLE}">'
        + "".join(f'<td style="{CELL_STYLE}">{cell.html}</td>' for cell in row)
        + "</tr>"
        for row in rows
    )
    under = f'<div style="{NOTE_STYLE}">{escape(note)}</div>' if note else ""
    return (f'<div class="{css_class}" style="{BOX_STYLE}"><table style="{TABLE_STYLE}">'
            f'<thead><tr style="{ROW_STYLE}">{head}</tr></thead><tbody>{body}</tbody>'
            f"</table>{under}</div>")


def terminal_width(default: int = 100) -> int:
    """The terminal's width (or ``$COLUMNS``); ``default`` where there is none."""
    return max(40, shutil.get_terminal_size((default, 24)).columns)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *,
               width: int | None = None, last: str = "cut") -> str:
    """Aligned columns under a header. The last column takes what is left of ``width``:
    cut with an ellipsis (``last="cut"``) or wrapped at words under itself (``"wrap"``)."""
    width = width or terminal_width()
    count = len(headers)
    widths = [max([len(headers[i]), *(len(r[i]) for r in rows)]) for i in range(count - 1)]
    indent = sum(widths) + 2 * len(widths)
    room = max(16, width - indent - 1)

    def line(cells: Sequence[str]) -> list[str]:
        lead = "".join(f"{cells[i]:<{widths[i]}}  " for i in range(count - 1))
        tail = cells[-1]
        if last == "wrap":
            parts = textwrap.wrap(tail, room, break_long_words=False,
                                  break_on_hyphens=False) or [""]
        else:
            parts = [cut(tail, room)]
        return [(lead + parts[0]).rstrip()] + [(" " * indent + p).rstrip() for p in parts[1:]]

    out = line(headers)
    out.append("".join("-" * w + "  " for w in widths) + "-" * min(room, max(
        [len(headers[-1]), *(min(room, len(r[-1])) for r in rows)])))
    for row in rows:
        out += line(row)
    return "\n".join(out)
