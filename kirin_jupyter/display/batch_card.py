"""One card for a whole batch: counts, cost, ETA and one bar while it runs; then a gallery
page of small thumbnails (one per item), so 500 items stay a small notebook.

The live card is one HTML widget without images (it is redrawn twice a second); the static
card that replaces it holds one page of 96 px thumbnails, and ``batch.page(n)`` (or
``%kirin batch show NAME --page N``) shows the others.
"""

from __future__ import annotations

import base64
import logging
from html import escape
from typing import TYPE_CHECKING

from ..base.money import usd
from ..storage.thumbnails import thumbnail_jpeg
from . import css, theme
from .group_card import FinalGroupView, GroupCard
from .paths import link, shown_path
from .static import card_open, foot, progress_bar, simulator_pill, title_row
from .tables import cut

if TYPE_CHECKING:
    from pathlib import Path

    from ..batches.batch import Batch
    from .tile_marks import Tiles

log = logging.getLogger("kirin_jupyter")

PER_PAGE = 24  # 3 rows of 8 at a notebook's width; about 60 KB of thumbnails
THUMB_MADE = 96  # px of the JPEG (sharp at 2x on the 64-80 px it is shown at)
TILE_MIN = 72  # px: the narrowest a tile gets before the grid wraps
COLUMNS = 8  # at most, so a page of 24 is 3 full rows (never 10 + 10 + 4)
GAP = 6  # px between tiles
# Tiles of at least TILE_MIN px, and at least an eighth of the row: 8 columns when wide,
# fewer (never narrower than TILE_MIN) when not. The plain rule first, for viewers that
# drop max() and calc().
_GRID = (f"grid-template-columns:repeat(auto-fill,minmax({TILE_MIN}px,1fr));"
         f"grid-template-columns:repeat(auto-fill,minmax(max({TILE_MIN}px,"
         f"calc((100% - {(COLUMNS - 1) * GAP}px) / {COLUMNS})),1fr));gap:{GAP}px;")
CAPTION_CHARS = 48  # of a tile's prompt (two lines at most; the whole prompt on hover)
_COUNTS_FALLBACK = "display:flex;flex-wrap:wrap;gap:2px 14px;margin:4px 0 2px"
_FAILURES_FALLBACK = ("list-style:none;padding:2px 8px 2px 10px;margin:6px 0 2px;"
                      f"border-left:3px solid {theme.plain(theme.ERROR)}")
_ORDER = (("done", "done"), ("failed", "failed"), ("running", "running"),
          ("queued", "queued"))
_FAILURES_SHOWN = 5
# Not typeset as maths: "$0.24 of about $1.20" is one text, and JupyterLab's MathJax (and
# nbconvert's) would read what lies between two dollar signs as LaTeX.


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _state(batch: Batch, counts: dict[str, int]) -> str:
    if not batch.done():
        return "running"
    if counts["queued"] or counts["running"]:
        return "stopped"
    if counts["failed"]:
        return "some failed" if counts["done"] else "failed"
    return "completed"


def counts_html(counts: dict[str, int]) -> str:
    parts = [f"<span>{css.dot(theme.STATE_COLOURS[key])}<b>{counts[key]}</b> {label}</span>"
             for key, label in _ORDER]
    return f'<div class="kirin-counts" style="{_COUNTS_FALLBACK}">{"".join(parts)}</div>'


def _money_line(batch: Batch) -> str:
    """'cost so far $0.12 of about $0.24 · ...' while it runs; 'cost $0.24 ...' after."""
    counts = batch.counts()
    parts = [f"cost {'so far ' if not batch.done() else ''}{usd(batch.cost)}"]
    price = batch.price
    if price is not None:
        parts[0] += f" of about {usd(price)}"
    if not batch.done():
        eta = batch.eta()
        if eta is not None:
            parts.append(f"about {_duration(eta)} left")
        # Never more at once than there are items left to make.
        left = counts["running"] + counts["queued"]
        parts.append(f"{max(1, min(batch.gate.size, left))} at once")
        if batch.gate.busy_signals:
            parts.append(f"the service said busy {batch.gate.busy_signals}×: slowed down")
    elif batch.ended_at is not None:
        parts.append(f"took {_duration(batch.ended_at - batch.started_at)}")
    if batch.reused or batch.followed:
        parts.append(f"resumed: {batch.reused} found done, {batch.followed} followed")
    return " · ".join(parts)


def _header(batch: Batch, state: str) -> str:
    pills = [css.pill(f"{batch.size} prompts"), css.state_pill(state)]
    if batch.simulated:
        pills.insert(1, simulator_pill())
    name = f'<span class="kirin-mono" style="overflow-wrap:anywhere">{escape(batch.name)}</span>'
    return title_row("Kirin batch", name + "".join(pills))


def _failures(batch: Batch) -> str:
    failed = batch.failed
    if not failed:
        return ""
    lines = "".join(
        f'<li><span class="kirin-muted">#{index + 1}</span> '
        f'{escape(cut(prompt, 60))}: {escape(cut(reason, 160))}</li>'
        for index, prompt, reason in failed[:_FAILURES_SHOWN])
    more = len(failed) - _FAILURES_SHOWN
    tail = (f'<li>and {more} more: <code>batch.failed</code></li>'
            if more > 0 else "")
    return (f'<ul class="kirin-failures" role="alert" style="{_FAILURES_FALLBACK}">'
            f"{lines}{tail}</ul>")


def batch_html(batch: Batch, *, final: bool, tiles: Tiles | None = None) -> str:
    """The card: live (no images) or final (the first page of the gallery; ``tiles``:
    its marks rows, as for ``gallery_page_html``)."""
    counts = batch.counts()
    state = _state(batch, counts) if final else "running"
    finished = counts["done"] + counts["failed"]
    body = counts_html(counts) + progress_bar(finished / max(1, batch.size))
    if final:
        body += _failures(batch) + gallery_page_html(batch, 1, PER_PAGE, counted=True,
                                                     tiles=tiles)
    role = "kirin-batch-result" if final else "kirin-batch-live"
    return (card_open(f"kirin-batch {role}", "bar", "batch", state=state)
            + f"{_header(batch, state)}{body}"
            + foot(escape(_money_line(batch))) + "</div>")


def _tile(number: int, prompt: str, path: Path, marks: str = "") -> str:
    """One item: its first picture (a link where a link reaches the file) over its number
    and the start of its prompt, so each picture says which prompt it answers; then its
    marks row, outside the link (a live card's stars are buttons)."""
    data = base64.b64encode(thumbnail_jpeg(path, THUMB_MADE, square=True)).decode("ascii")
    title = escape(f"#{number}: {cut(prompt, 300)}")
    caption = (f'<span class="kirin-cap" style="font-size:11px"><b>#{number}</b> '
               f"{escape(cut(prompt, CAPTION_CHARS))}</span>")
    image = f'<img src="data:image/jpeg;base64,{data}" alt="item {number}">'
    href = link(path)
    if href is not None:
        image, caption = (f'<a class="kirin-tile-link" href="{escape(href)}" target="_blank">'
                          f"{image}{caption}</a>"), ""
    return f'<div class="kirin-tile" title="{title}">{image}{caption}{marks}</div>'


def gallery_page_html(batch: Batch, number: int, per_page: int, *,
                      counted: bool = False, tiles: Tiles | None = None) -> str:
    """Page ``number`` of the items that are done: one thumbnail each (its first image).
    ``counted``: the card says how many are done already, so one page needs no note.
    ``tiles``: each tile's marks row (static marks when not given)."""
    from .tile_marks import Tiles

    tiles = tiles if tiles is not None else Tiles()
    done = [(index, result) for index, result in enumerate(batch.results)
            if result is not None and result.paths]
    if not done:
        return ""
    pages = max(1, -(-len(done) // per_page))
    number = min(max(1, number), pages)
    shown = done[(number - 1) * per_page:number * per_page]
    shown_tiles = []
    for index, result in shown:
        try:
            shown_tiles.append(_tile(index + 1, result.prompt, result.paths[0],
                                     tiles.row(result, 0, f"#{index + 1}")))
        except OSError:  # the file was moved or deleted since
            where = escape(shown_path(result.paths[0]))
            shown_tiles.append(f'<div class="kirin-tile" title="{where}">#{index + 1} '
                               "missing</div>")
    if pages == 1:
        note = "" if counted else f"{len(done)} done"
    else:
        after = f"; next: batch.page({number + 1}) or %kirin batch show {batch.name} " \
            f"--page {number + 1}" if number < pages else ", the last page"
        note = f"page {number} of {pages} ({len(done)} done){after}"
    return (f'<div class="kirin-gallery kirin-batch-gallery" style="display:grid;{_GRID}'
            f'max-width:{COLUMNS * THUMB_MADE + (COLUMNS - 1) * GAP}px">'
            f'{"".join(shown_tiles)}</div>'
            + (f'<div class="kirin-page-note kirin-note">{escape(note)}</div>' if note else ""))


def batch_text(batch: Batch) -> str:
    counts = batch.counts()
    parts = ", ".join(f"{counts[key]} {label}" for key, label in _ORDER)
    return f"Kirin batch {batch.name}: {batch.size} prompts ({parts}); {_money_line(batch)}"


class BatchPage:
    """One page of a batch's gallery, as a cell's value."""

    def __init__(self, batch: Batch, number: int, per_page: int = PER_PAGE) -> None:
        self.batch, self.number, self.per_page = batch, number, per_page

    def html(self, tiles: Tiles | None = None) -> str:
        """The page as a card (``tiles``: its marks rows, static when not given)."""
        page = gallery_page_html(self.batch, self.number, self.per_page, tiles=tiles)
        return (card_open("kirin-batch-page", "batch")
                + f"{_header(self.batch, _state(self.batch, self.batch.counts()))}"
                f"{page or 'no item is done yet'}</div>")

    def _repr_html_(self) -> str:
        return self.html()

    def __repr__(self) -> str:
        return f"<batch {self.batch.name} page {self.number}>"


def _draw(batch: Batch, final: bool, tiles: Tiles | None = None) -> str:
    return batch_html(batch, final=final, tiles=tiles)


class FinalBatchView(FinalGroupView):
    """What replaces the live batch card when the batch ends."""

    def __init__(self, batch: Batch) -> None:
        super().__init__(batch, _draw, batch_text)
        self.batch = batch


class BatchCard(GroupCard):
    """The live batch card: redrawn by the engine thread, replaced at the end."""

    def __init__(self, batch: Batch) -> None:
        super().__init__(batch, _draw, FinalBatchView, batch_text)
        self.batch = batch
