"""A sweep as a grid: rows and columns labelled by the swept values, each cell its
thumbnails and cost (or why it failed); and a plan as a table of cells and prices.

Static HTML (a CSS grid, one style block, theme colours, no scripts), so a saved notebook
and nbconvert's HTML show the same grid. The last axis is the columns; the others make the
rows ("omni · 16:9" when there are two of them). Columns are 64 to 150 px: a narrow window
shrinks them and their pictures; only a grid of more columns than fit at 64 px scrolls
sideways inside its own box, with the row labels kept in view.
"""

from __future__ import annotations

import base64
from html import escape
from typing import TYPE_CHECKING

from ..base.money import usd
from ..batches.sweep import plan_note, plan_rows
from ..storage.thumbnails import thumbnail_jpeg
from . import css, theme
from .batch_card import counts_html
from .group_card import FinalGroupView, GroupCard
from .paths import link, shown_path
from .static import (
    MESSAGE_FALLBACK,
    NO_MATH,
    card_open,
    foot,
    progress_bar,
    simulator_pill,
    title_row,
)
from .tables import cut, html_table

if TYPE_CHECKING:
    from pathlib import Path

    from ..batches.axes import Axis
    from ..batches.sweep import Sweep, SweepPlan
    from ..engine.job import Result
    from .tile_marks import Tiles

THUMB_MADE = 192  # px of the JPEG: sharp at 2x where a cell shows it at about 150 px
CELL_WIDTH = 150  # px: a column at most; narrower windows shrink the columns, not cut them
CELL_MIN = 64  # px: the narrowest a column gets; more columns than fit scroll in the card
ROW_LABEL_MAX = 140  # px
MAX_THUMBS = 4  # per cell; a cell of n=9 shows four and says how many more


def layout(axes: list[Axis]) -> tuple[list[str], list[str]]:
    """Row labels and column labels: cell ``r * len(columns) + c`` is at (r, c)."""
    if not axes:
        return [""], [""]
    columns = list(axes[-1].labels)
    rows = [""]
    for axis in axes[:-1]:
        rows = [f"{row} · {label}" if row else label for row in rows for label in axis.labels]
    return rows, columns


def _state(sweep: Sweep, counts: dict[str, int]) -> str:
    if not sweep.done():
        return "running"
    if counts["queued"] or counts["running"]:
        return "stopped"
    if counts["failed"]:
        return "some failed" if counts["done"] else "failed"
    return "completed"


def _thumbs(result: Result, tiles: Tiles) -> str:
    paths = result.paths[:MAX_THUMBS]
    columns = 1 if len(paths) == 1 else 2
    shown = "".join(f"<div>{_thumb(path, number)}"
                    f"{tiles.row(result, number - 1, path.name)}</div>"
                    for number, path in enumerate(paths, 1))
    more = len(result.paths) - len(paths)
    tail = f'<div class="kirin-meta">+{more} more</div>' if more > 0 else ""
    return (f'<div class="kirin-sweep-thumbs" style="display:grid;grid-template-columns:'
            f'repeat({columns},minmax(0,1fr));gap:4px">{shown}</div>{tail}')


def _thumb(path: Path, number: int) -> str:
    try:
        data = base64.b64encode(thumbnail_jpeg(path, THUMB_MADE)).decode("ascii")
    except OSError:  # moved or deleted since
        return f'<div class="kirin-muted" title="{escape(shown_path(path))}">missing</div>'
    image = (f'<img src="data:image/jpeg;base64,{data}" alt="image {number}" '
             f'title="{escape(path.name)}">')
    href = link(path)
    if href is not None:  # the full image a click away, where a link can reach it
        image = f'<a href="{escape(href)}" target="_blank">{image}</a>'
    return image


def _cell(sweep: Sweep, index: int, *, images: bool, tiles: Tiles) -> str:
    state = sweep.state(index)
    result = sweep.results[index]
    price = sweep.plan.quotes[index]
    body = ""
    if state == "done" and result is not None:
        body = _thumbs(result, tiles) if images else ""
        money = f"cost {usd(result.cost)}" if result.cost is not None else "cost not reported"
        body += f'<div class="kirin-meta" style="margin-top:3px">{money}</div>'
    elif state == "failed":
        reason = next((r for i, _, r in sweep.failed if i == index), "failed")
        body = (f'<div class="kirin-message" role="alert" title="{escape(cut(reason, 600))}" '
                f'style="{MESSAGE_FALLBACK}">{css.dot(theme.ERROR)}failed: '
                f"{escape(cut(reason, 140))}</div>")
    else:
        quoted = f" · about {usd(price.usd)}" if price is not None and price.usd else ""
        body = (f'<div class="kirin-muted">{css.dot(theme.STATE_COLOURS[state])}'
                f"{state}{quoted}</div>")
    title = escape(cut(sweep.plan.requests[index].prompt, 400))
    return (f'<div class="kirin-sweep-cell" role="cell" data-state="{state}" '
            f'data-cell="{index + 1}" title="{title}">{body}</div>')


def _template(rows: list[str], columns: int) -> str:
    """The grid's columns, as an inline style: the row labels as wide as they need (at most
    ROW_LABEL_MAX), then equal columns of CELL_MIN to CELL_WIDTH px, so a narrow window
    shrinks the pictures. A plain rule first, for a sanitiser that drops fit-content()."""
    cells = f"repeat({columns},minmax({CELL_MIN}px,{CELL_WIDTH}px))"
    if rows == [""]:
        return f"grid-template-columns:{cells}"
    return (f"grid-template-columns:minmax(min-content,{ROW_LABEL_MAX}px) {cells};"
            f"grid-template-columns:fit-content({ROW_LABEL_MAX}px) {cells}")


def grid_html(sweep: Sweep, *, images: bool = True, tiles: Tiles | None = None) -> str:
    """The grid alone: column headers, row headers, one cell per combination. A grid, not
    a table: its columns shrink with the window, so the pictures scale and none is cut.
    ``tiles``: each picture's marks row (static marks when not given)."""
    from .tile_marks import Tiles

    tiles = tiles if tiles is not None else Tiles()
    rows, columns = layout(sweep.plan.axes)
    labelled = rows != [""]
    parts = ['<div class="kirin-sweep-corner"></div>'] if labelled else []
    parts += [f'<div class="kirin-sweep-col" role="columnheader" title="{escape(label)}">'
              f"{escape(label)}</div>" for label in columns]
    for r, row in enumerate(rows):
        if labelled:
            parts.append(f'<div class="kirin-sweep-row" role="rowheader">{escape(row)}</div>')
        parts += [_cell(sweep, r * len(columns) + c, images=images, tiles=tiles)
                  for c in range(len(columns))]
    return (f'<div class="kirin-sweep-box" style="overflow-x:auto">'
            f'<div class="kirin-sweep-grid" role="table" style="display:grid;'
            f'{_template(rows, len(columns))};gap:6px 8px">'
            f'{"".join(parts)}</div></div>')


def _axes_line(axes: list[Axis]) -> str:
    if len(axes) == 1:
        return f"columns: {axes[0].title}"
    return (f"rows: {' · '.join(a.title for a in axes[:-1])} · columns: {axes[-1].title}")


def money_line(sweep: Sweep) -> str:
    """'cost $0.16 of about $0.16 · took 3 s'; 'cost so far' while it runs."""
    parts = [f"cost {'so far ' if not sweep.done() else ''}{usd(sweep.cost)}"]
    if sweep.price is not None:
        parts[0] += f" of about {usd(sweep.price)}"
    batch = sweep.batch
    if batch.ended_at is not None:
        parts.append(f"took {batch.ended_at - batch.started_at:.0f} s")
    return " · ".join(parts)


def _header(sweep: Sweep, state: str) -> str:
    pills = [css.pill(f"{len(sweep)} cells"), css.state_pill(state)]
    if sweep.batch.simulated:
        pills.insert(1, simulator_pill())
    name = f'<span class="kirin-mono" style="overflow-wrap:anywhere">{escape(sweep.name)}</span>'
    return (title_row("Kirin sweep", name + "".join(pills))
            + f'<div class="kirin-sub">{escape(_axes_line(sweep.plan.axes))}</div>')


def sweep_html(sweep: Sweep, *, final: bool, tiles: Tiles | None = None) -> str:
    """The card: live (cells' states, no images, a bar) or final (the grid of images;
    ``tiles``: their marks rows, as for ``grid_html``)."""
    counts = sweep.counts()
    state = _state(sweep, counts) if final else "running"
    live = "" if final else counts_html(counts) + progress_bar(
        (counts["done"] + counts["failed"]) / max(1, len(sweep)))
    role = "kirin-sweep-result" if final else "kirin-sweep-live"
    return (card_open(f"kirin-sweep {role}", "bar", "message", "sweep", state=state, fit=True)
            + f"{_header(sweep, state)}{live}{grid_html(sweep, images=final, tiles=tiles)}"
            + foot(escape(money_line(sweep))) + "</div>")


def sweep_text(sweep: Sweep) -> str:
    """The sweep in plain text: one line, then one line per cell."""
    counts = sweep.counts()
    lines = [f"Kirin sweep {sweep.name}: {len(sweep)} cells ({counts['done']} done, "
             f"{counts['failed']} failed, {counts['running']} running, {counts['queued']} "
             f"queued); {money_line(sweep)}"]
    results = sweep.results
    for index in range(len(sweep)):
        result = results[index]
        where = shown_path(result.paths[0]) if result is not None and result.paths else \
            sweep.state(index)
        cost = f" {usd(result.cost)}" if result is not None and result.cost is not None else ""
        lines.append(f"  {sweep.plan.describe(index)}:{cost} {where}")
    return "\n".join(lines)


def plan_html(plan: SweepPlan) -> str:
    from .tables import plain

    headers = ["#", *(a.title for a in plan.axes), "price"]
    rows = [[plain(value) for value in row] for row in plan_rows(plan)]
    return html_table(headers, rows, note=plan_note(plan),
                      css_class=f"kirin-sweep-plan {NO_MATH}")


def _draw(sweep: Sweep, final: bool, tiles: Tiles | None = None) -> str:
    return sweep_html(sweep, final=final, tiles=tiles)


class FinalSweepView(FinalGroupView):
    """What replaces the live sweep card when the sweep ends."""

    def __init__(self, sweep: Sweep) -> None:
        super().__init__(sweep, _draw, sweep_text)
        self.sweep = sweep


class SweepCard(GroupCard):
    """The live sweep card: redrawn by the engine thread, replaced at the end."""

    def __init__(self, sweep: Sweep) -> None:
        super().__init__(sweep, _draw, FinalSweepView, sweep_text)
        self.sweep = sweep
