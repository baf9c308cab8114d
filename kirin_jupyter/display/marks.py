"""Stars, picks and rejects as a saved notebook shows them: static text under a tile
(``★★★★☆ · picked``), read from the journal when the view is drawn, so the saved output
keeps them without a kernel; and the note of a file left as the service signed it.

A view drawn for the live card leaves each tile an empty slot instead (``slot``), which the
widget fills with buttons (``live_view.py``); ``fill_slots`` turns such a drawing back into
the static one, with the marks as they now stand.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from ..storage.marks import STARS, stars_text
from . import css, theme

if TYPE_CHECKING:
    from ..engine.job import Result
    from ..storage.marks import Mark

log = logging.getLogger("kirin_jupyter")

# A flag is told by a dot of its colour beside the word, never by a coloured word.
_FLAG_COLOURS = {"picked": theme.SUCCESS, "rejected": theme.ERROR}
# One tile's marks row, left empty for the live card's buttons: its place in the drawing
# (the index of the file the Python side knows) and what the row is about, for a reader.
_SLOT = '<div class="kirin-marks" data-kirin-tile="{index}" role="group" aria-label="{label}">' \
    "</div>"
_SLOT_FOUND = re.compile(r'<div class="kirin-marks" data-kirin-tile="(\d+)" role="group" '
                         r'aria-label="[^"]*"></div>')

State = tuple[int | None, str | None]  # (rating, flag) of one tile


def marks_of(result: Result) -> dict[Path, Mark]:
    """Each file's marks, or none when the journal cannot be read (the card still shows)."""
    if result.journal is None:
        return {}
    try:
        return {m.path: m for m in result.marks}
    except (sqlite3.Error, OSError) as exc:
        log.warning("ratings not shown: %s", exc)
        return {}


def marks_html(rating: int | None, flag: str | None) -> str:
    """One tile's stars and flag as static text; "" for a file with neither (a rating of
    0 is no stars, as Lightroom reads ``xmp:Rating`` 0)."""
    parts = []
    if rating:
        parts.append(f'<span aria-label="{rating} of {STARS} stars">{stars_text(rating)}'
                     "</span>")
    if flag is not None:
        colour = _FLAG_COLOURS.get(flag, theme.NEUTRAL)
        parts.append(f"<span>{css.dot(colour)}<b>{escape(flag)}</b></span>")
    if not parts:
        return ""
    return f'<div class="kirin-marks" style="font-size:11px">{" · ".join(parts)}</div>'


def mark_html(mark: Mark | None) -> str:
    """``marks_html`` of a journal's ``Mark``; "" for an unmarked file."""
    return "" if mark is None else marks_html(mark.rating, mark.flag)


def slot(index: int, label: str) -> str:
    """Tile ``index``'s empty marks row in a live card's drawing, ``label`` naming it."""
    return _SLOT.format(index=index, label=escape(f"stars and pick of {label}"))


def fill_slots(html: str, states: Sequence[State]) -> str:
    """``html`` with each slot replaced by its tile's static marks (``states[index]``): what
    the live card shows, for a reader without the widget."""
    def static(found: re.Match[str]) -> str:
        index = int(found[1])
        return marks_html(*states[index]) if index < len(states) else ""

    return _SLOT_FOUND.sub(static, html)


def signed_note(result: Result) -> str:
    """Said once per card: the files carry the service's signature and were left as sent."""
    if not result.signed:
        return ""
    return (" · signed by the service (C2PA: " + escape(", ".join(result.signed))
            + "): files left as sent, their records in NAME.kirin.json beside them")
