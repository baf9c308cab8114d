"""Past generations from the journal and the files on disk: a compact table, one line a job.

HTML for notebooks (theme colours, a strip of small thumbnails, nothing that wraps) and an
aligned text table for terminals; both come in one mimebundle, so each front end picks its
own.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from ..base.money import usd
from ..model import spec
from ..storage.shared_results import local_paths
from ..storage.thumbnails import thumbnail_jpeg
from . import css, theme
from .paths import shown_path
from .static import NO_MATH
from .tables import Cell, cut, mono, muted, plain, short_id, text_table

THUMB_SHOWN = 48  # px on the page; rows stay about 56 px tall
THUMB_MADE = 96  # px of the JPEG: sharp on high-density screens, still a few kB
THUMBS_PER_ROW = 3
PROMPT_CHARS = 120  # at most; wide, the column ends it at 26em, narrow at two lines
TITLED_AFTER = 48  # characters: a longer prompt may be cut on the page, so it is on hover
EMPTY = "No generations in the journal yet."
HEADERS = ("images", "prompt", "model", "state", "n", "cost", "date", "task")
# The pictures need no header where they are shown (HTML); the text table says "images".
_HTML_HEADERS = ("", "prompt", "model", "state", "n", "cost", "date", "task")


@dataclass(frozen=True)
class HistoryPage:
    """One page of the journal and where it sits: what ``%kirin history`` shows."""

    rows: Sequence[dict[str, Any]]
    total: int
    page: int = 1
    per_page: int = 20
    next_command: str = ""  # the magic line for the following page ("" on the last)
    filtered: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def note(self) -> str:
        """'page 2 of 7 (jobs 21-40 of 132); next: %kirin history --page 3'."""
        if not self.rows:
            if self.total:
                return f"page {self.page} is past the last page ({self.pages})"
            return "no job matches these filters" if self.filtered else ""
        if self.pages == 1:
            plural = "s" if self.total != 1 else ""
            return f"{self.total} job{plural}{' matching' if self.filtered else ''}"
        first = (self.page - 1) * self.per_page + 1
        span = f"jobs {first}-{first + len(self.rows) - 1} of {self.total}"
        tail = f"; next: {self.next_command}" if self.next_command else " (the last page)"
        return f"page {self.page} of {self.pages} ({span}){tail}"


def _existing_paths(row: dict[str, Any]) -> list[Path]:
    """The job's files here, a teammate's shared ones fetched (``shared_results``)."""
    return [path for path in local_paths(row.get("paths")) if path.is_file()]


def _thumb(path: Path) -> str:
    """A square thumbnail (cropped when made: untrusted, ``object-fit`` would be dropped),
    48 px wide on the page."""
    try:
        data = base64.b64encode(thumbnail_jpeg(path, THUMB_MADE, square=True)).decode("ascii")
    except (OSError, ValueError):
        return ""
    return (f'<img src="data:image/jpeg;base64,{data}" alt="{escape(path.name)}" '
            f'title="{escape(shown_path(path))}" style="width:{THUMB_SHOWN}px">')


def _strip(paths: list[Path]) -> Cell:
    """Thumbnails side by side; '+3' for those left out."""
    thumbs = [t for t in (_thumb(p) for p in paths[:THUMBS_PER_ROW]) if t]
    more = len(paths) - THUMBS_PER_ROW
    if more > 0:
        thumbs.append(f'<span class="kh-more">+{more}</span>')
    if not thumbs:
        return Cell(muted("-"), "-")
    return Cell("".join(thumbs), str(len(paths)))


def _date(stamp: float, now: float) -> str:
    at = time.localtime(stamp)
    if at.tm_year == time.localtime(now).tm_year:
        return time.strftime("%m-%d %H:%M", at)
    return time.strftime("%Y-%m-%d", at)


def _model(name: str) -> str:
    known = spec.MODELS.get(name)
    return known.alias if known is not None else name


def _n(row: dict[str, Any]) -> str:
    try:
        return str(int(json.loads(row.get("request") or "{}").get("n", 1)))
    except (ValueError, TypeError, AttributeError):
        return "-"


def _cells(row: dict[str, Any], now: float) -> list[Cell]:
    status = str(row.get("status") or "-")
    prompt = str(row.get("prompt") or "")
    task = str(row.get("task_id") or "")
    error = str(row.get("error") or "")
    created = float(row.get("created_at") or 0)
    cost = usd(row["cost"]) if row.get("cost") not in (None, "") else "-"
    model = _model(str(row.get("model") or "-"))
    shown_prompt = cut(prompt, PROMPT_CHARS)
    n = _n(row)
    unit = f"image{'s' if n != '1' else ''}"
    return [
        _strip(_existing_paths(row)),
        plain(shown_prompt, title=cut(prompt, 600) if len(prompt) > TITLED_AFTER else ""),
        Cell(escape(model), model),
        Cell(css.state_pill(status, title=cut(error, 300)), status),
        Cell(f'{escape(n)}<span class="kh-unit"> {unit}</span>', n),
        plain(cost),
        plain(_date(created, now), title=time.strftime("%Y-%m-%d %H:%M:%S",
                                                       time.localtime(created))),
        Cell(mono(short_id(task), title=task) if task else muted("-"), task or "-"),
    ]


# Untrusted (no <style>), each job is a line that wraps: its pictures and prompt, then the
# rest; a plain grey rule under it.
_ROW_FALLBACK = ("display:flex;flex-wrap:wrap;align-items:center;gap:2px 10px;padding:4px 0;"
                 f"border-bottom:1px solid {theme.PLAIN_RULE}")
_META_FALLBACK = "display:flex;flex-wrap:wrap;align-items:center;gap:2px 10px"
_COLUMNS = ("kh-thumbs", "kh-prompt", "kh-model", "kh-state", "kh-n", "kh-cost", "kh-date",
            "kh-task")


def _row_html(cells: Sequence[Cell], *, head: bool = False) -> str:
    """The pictures and the prompt, then the facts (one wrapping group when narrow). The
    header row shows only where the style block lines the columns up."""
    spans = [f'<span class="{name}">{cell.html}</span>'
             for name, cell in zip(_COLUMNS, cells, strict=True)]
    spans[0] = f'<span class="kh-thumbs" style="display:flex;gap:3px">{cells[0].html}</span>'
    row, meta = ("kh-row kh-head", "display:none") if head else ("kh-row", _ROW_FALLBACK)
    return (f'<div class="{row}" style="{meta}">{spans[0]}{spans[1]}'
            f'<span class="kh-meta" style="{_META_FALLBACK}">{"".join(spans[2:])}</span>'
            "</div>")


def history_html(rows: Sequence[dict[str, Any]], note: str = "") -> str:
    """One line per job, newest first: thumbnails, prompt, model, state, n, cost, date, id.

    One style block for the whole table; each row carries classes and a short fallback."""
    if not rows:
        text = note or EMPTY
        return (f'<div class="kirin kirin-history">{css.style()}'
                f'<span class="kirin-note">{escape(text)}</span></div>')
    now = time.time()
    head = _row_html([plain(text) for text in _HTML_HEADERS], head=True)
    body = "".join(_row_html(_cells(row, now)) for row in rows)
    under = f'<div class="kirin-note" style="margin-top:4px">{escape(note)}</div>' \
        if note else ""
    return (f'<div class="kirin kirin-history {NO_MATH}">{css.style("history")}'
            f'<div class="kh-rows">{head}{body}</div>{under}</div>')


def history_text(rows: Sequence[dict[str, Any]], note: str = "",
                 width: int | None = None) -> str:
    """The same table in aligned columns, for terminals; the full task id, to copy."""
    if not rows:
        return note or EMPTY
    now = time.time()
    order = (6, 3, 2, 4, 5, 7, 1)  # date, state, model, n, cost, task, prompt
    headers = [HEADERS[i] for i in order]
    lines = []
    for row in rows:
        cells = _cells(row, now)
        cells[1] = Cell("", " ".join(str(row.get("prompt") or "").split()))
        lines.append([cells[i].text for i in order])
    table = text_table(headers, lines, width=width)
    return table + (f"\n{note}" if note else "")


class HistoryView:
    """``%kirin history`` / ``%kirin show``: HTML in notebooks, a text table elsewhere."""

    def __init__(self, rows: Sequence[dict[str, Any]] | HistoryPage) -> None:
        self.rows = rows.rows if isinstance(rows, HistoryPage) else list(rows)
        self.note = rows.note() if isinstance(rows, HistoryPage) else ""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": history_html(self.rows, self.note),
                "text/plain": history_text(self.rows, self.note)}
