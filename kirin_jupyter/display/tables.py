"""Compact themed tables, as HTML and as aligned plain text, for the ``%kirin`` listings.

JupyterLab styles every output table (right-aligned, centred, ``table-layout: fixed``,
wrapping cells, striped rows); the style block (``css.py``, part "table") undoes that, so
a listing reads left to right, one line per row, in any theme. The text form is what a
terminal shows.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from . import css

# Untrusted (no <style>), JupyterLab's own table rules apply (right-aligned, striped); the
# table keeps its place on the left and the note its size.
_TABLE_FALLBACK = "margin:0;table-layout:auto"


def cut(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters, ending in an ellipsis when cut."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: max(0, limit - 1)].rstrip() + "…"


def short_id(ident: str, head: int = 4, tail: int = 6) -> str:
    """'1234567890123456789' -> '1234…456789': ids often share a long prefix, so the end
    is kept; the full id is in the cell's title and in the text table."""
    return ident if len(ident) <= head + tail + 2 else f"{ident[:head]}…{ident[-tail:]}"


def muted(text: str) -> str:
    return f'<span class="kirin-muted">{escape(text)}</span>'


def mono(text: str, *, title: str = "") -> str:
    hint = f' title="{escape(title)}"' if title else ""
    return f'<span class="kirin-mono"{hint}>{escape(text)}</span>'


@dataclass(frozen=True)
class Cell:
    """A cell's HTML (already escaped) and its plain text."""

    html: str
    text: str


def plain(text: str, *, title: str = "") -> Cell:
    hint = f' title="{escape(title)}"' if title else ""
    return Cell(f"<span{hint}>{escape(text)}</span>" if hint else escape(text), text)


def html_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, note: str = "",
               css_class: str = "kirin-listing") -> str:
    """A left-aligned table as wide as its content, whose cells never wrap; ``note``
    (plain text) goes under it. A window too narrow for it scrolls it sideways. One
    output: its style block first."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell.html}</td>" for cell in row) + "</tr>"
                   for row in rows)
    under = f'<div class="kirin-table-note">{escape(note)}</div>' if note else ""
    return (f'<div class="kirin kirin-table {css_class}" style="overflow-x:auto">'
            f'{css.style("table")}<table style="{_TABLE_FALLBACK}">'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{under}</div>")


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
