"""Compact themed tables, as HTML and as aligned plain text, for the ``%kirin`` listings.

JupyterLab styles every output table (right-aligned, centred, ``table-layout: fixed``,
wrapping cells, striped rows); the style block (``css.py``, part "table") undoes that, so
a listing reads left to right, one line per row, in any theme. The text form is what a
terminal shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from ..base.text import cut as cut
from ..base.text import terminal_width as terminal_width
from ..base.text import text_table as text_table
from . import css

# Untrusted (no <style>), JupyterLab's own table rules apply (right-aligned, striped); the
# table keeps its place on the left and the note its size.
_TABLE_FALLBACK = "margin:0;table-layout:auto"


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


