"""Stars, picks and rejects as a saved notebook shows them: static text under a tile
(``★★★★☆ · picked``), read from the journal when the view is drawn, so the saved output
keeps them without a kernel; and the note of a file left as the service signed it."""

from __future__ import annotations

import logging
import sqlite3
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..engine.job import Result
    from ..storage.marks import Mark

log = logging.getLogger("kirin_jupyter")

_FLAG_COLOURS = {"picked": "var(--kok)", "rejected": "var(--kerr)"}


def marks_of(result: Result) -> dict[Path, Mark]:
    """Each file's marks, or none when the journal cannot be read (the card still shows)."""
    if result.journal is None:
        return {}
    try:
        return {m.path: m for m in result.marks}
    except (sqlite3.Error, OSError) as exc:
        log.warning("ratings not shown: %s", exc)
        return {}


def mark_html(mark: Mark | None) -> str:
    """One tile's stars and flag as static text; "" for an unmarked file."""
    if mark is None or (mark.rating is None and mark.flag is None):
        return ""
    parts = []
    if mark.rating is not None:
        parts.append(f'<span aria-label="{mark.rating} of 5 stars">{mark.stars}</span>')
    if mark.flag is not None:
        colour = _FLAG_COLOURS.get(mark.flag, "inherit")
        parts.append(f'<b style="color:{colour}">{escape(mark.flag)}</b>')
    return f'<div class="kirin-marks" style="font-size:11px">{" · ".join(parts)}</div>'


def signed_note(result: Result) -> str:
    """Said once per card: the files carry the service's signature and were left as sent."""
    if not result.signed:
        return ""
    return (" · signed by the service (C2PA: " + escape(", ".join(result.signed))
            + "): files left as sent, their records in NAME.kirin.json beside them")
