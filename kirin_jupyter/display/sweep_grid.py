"""A sweep as a grid: rows and columns labelled by the swept values, each cell its
thumbnails and cost (or why it failed); and a plan as a table of cells and prices.

Static HTML (a table, inline styles, theme colours, no scripts), so a saved notebook and
nbconvert's HTML show the same grid. The last axis is the columns; the others make the
rows ("omni · 16:9" when there are two of them). A grid wider than the output area
scrolls sideways inside its own box, with the row labels kept in view.
"""

from __future__ import annotations

import base64
from decimal import Decimal
from html import escape
from typing import TYPE_CHECKING

from ..thumbnails import thumbnail_jpeg
from . import theme
from .batch_card import counts_html
from .group_card import FinalGroupView, GroupCard
from .static import FIT_CARD_STYLE, NO_MATH, progress_bar
from .tables import cut, html_table, text_table

if TYPE_CHECKING:
    from pathlib import Path

    from ..job import Result
    from ..sweep_plan import Axis
    from ..sweeps import Sweep, SweepPlan

THUMB_MADE = 192  # px of the JPEG: sharp at 2x where a cell shows it at about 150 px
CELL_WIDTH = 150  # px: two columns and the row labels fit a 480 px wide output
MAX_THUMBS = 4  # per cell; a cell of n=9 shows four and says how many more
_BG = f"background:{theme.plain(theme.PAGE)};background:{theme.PAGE};"
_TABLE = ("border-collapse:separate;border-spacing:0;border:none;table-layout:auto;"
          f"width:auto;margin:0;color:{theme.TEXT};font-size:12px;line-height:1.35")
_HEAD = (f"text-align:left;vertical-align:bottom;padding:2px 6px 4px;border:none;"
         f"{theme.border(theme.BORDER, 'border-bottom')}font-weight:600;color:{theme.TEXT};"
         f"white-space:nowrap;max-width:{CELL_WIDTH}px;overflow:hidden;text-overflow:ellipsis")
_ROW_HEAD = (f"text-align:left;vertical-align:top;padding:6px 8px 6px 0;border:none;"
             f"font-weight:600;color:{theme.TEXT};position:sticky;left:0;z-index:1;{_BG}"
             "max-width:140px;overflow-wrap:break-word")  # whole words: never a letter a line
_CELL = (f"text-align:left;vertical-align:top;padding:6px;border:none;"
         f"{theme.border(theme.BORDER_SOFT, 'border-bottom')}width:{CELL_WIDTH}px;"
         f"min-width:{CELL_WIDTH}px;max-width:{CELL_WIDTH}px")
_ROW = "background:transparent"  # JupyterLab stripes and highlights table rows


def layout(axes: list[Axis]) -> tuple[list[str], list[str]]:
    """Row labels and column labels: cell ``r * len(columns) + c`` is at (r, c)."""
    if not axes:
        return [""], [""]
    columns = list(axes[-1].labels)
    rows = [""]
    for axis in axes[:-1]:
        rows = [f"{row} · {label}" if row else label for row in rows for label in axis.labels]
    return rows, columns


def _usd(value: Decimal) -> str:
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        value = value.quantize(Decimal("0.01"))
    return f"${value}"


def _state(sweep: Sweep, counts: dict[str, int]) -> str:
    if not sweep.done():
        return "running"
    if counts["queued"] or counts["running"]:
        return "stopped"
    if counts["failed"]:
        return "some failed" if counts["done"] else "failed"
    return "completed"


def _thumbs(result: Result) -> str:
    paths = result.paths[:MAX_THUMBS]
    columns = 1 if len(paths) == 1 else 2
    tiles = []
    for number, path in enumerate(paths, 1):
        tiles.append(_thumb(path, number))
    more = len(result.paths) - len(paths)
    tail = (f'<div style="color:{theme.MUTED};font-size:11px">+{more} more</div>'
            if more > 0 else "")
    return (f'<div class="kirin-sweep-thumbs" style="display:grid;grid-template-columns:'
            f'repeat({columns},minmax(0,1fr));gap:4px">{"".join(tiles)}</div>{tail}')


def _thumb(path: Path, number: int) -> str:
    try:
        data = base64.b64encode(thumbnail_jpeg(path, THUMB_MADE)).decode("ascii")
    except OSError:  # moved or deleted since
        return f'<div title="{escape(str(path))}" style="color:{theme.MUTED}">missing</div>'
    image = (f'<img src="data:image/jpeg;base64,{data}" alt="image {number}" '
             f'title="{escape(path.name)}" style="display:block;width:100%;height:auto;'
             f'max-width:{THUMB_MADE}px;border-radius:3px">')
    if not path.is_absolute():  # the full image a click away, where a link can reach it
        image = f'<a href="{escape(path.as_posix())}" target="_blank">{image}</a>'
    return image


def _cell(sweep: Sweep, index: int, *, images: bool) -> str:
    state = sweep.state(index)
    result = sweep.results[index]
    price = sweep.plan.quotes[index]
    body = ""
    if state == "done" and result is not None:
        body = _thumbs(result) if images else ""
        cost = result.cost if result.cost is not None else None
        money = f"cost {_usd(cost)}" if cost is not None else "cost not reported"
        body += f'<div style="color:{theme.MUTED};font-size:11px;margin-top:3px">{money}</div>'
    elif state == "failed":
        reason = next((r for i, _, r in sweep.failed if i == index), "failed")
        body = (f'<div class="kirin-message" role="alert" title="{escape(cut(reason, 600))}" '
                f"style=\"{theme.border(theme.ERROR, 'border-left', '3px')}padding:1px 6px;"
                f'overflow-wrap:anywhere">{theme.dot(theme.ERROR)}failed: '
                f"{escape(cut(reason, 140))}</div>")
    else:
        quoted = f" · about {_usd(price.usd)}" if price is not None and price.usd else ""
        body = (f'<div style="color:{theme.MUTED}">{theme.dot(theme.STATE_COLOURS[state])}'
                f"{state}{quoted}</div>")
    title = escape(cut(sweep.plan.requests[index].prompt, 400))
    return (f'<td class="kirin-sweep-cell" data-state="{state}" data-cell="{index + 1}" '
            f'title="{title}" style="{_CELL}">{body}</td>')


def grid_html(sweep: Sweep, *, images: bool = True) -> str:
    """The grid alone: column headers, row headers, one cell per combination."""
    rows, columns = layout(sweep.plan.axes)
    head = "".join(f'<th scope="col" class="kirin-sweep-col" style="{_HEAD}" '
                   f'title="{escape(label)}">{escape(label)}</th>' for label in columns)
    corner = f'<th style="{_HEAD};{_BG}position:sticky;left:0;z-index:1"></th>'
    body = []
    for r, row in enumerate(rows):
        cells = "".join(_cell(sweep, r * len(columns) + c, images=images)
                        for c in range(len(columns)))
        label = (f'<th scope="row" class="kirin-sweep-row" style="{_ROW_HEAD}">'
                 f"{escape(row)}</th>") if row else f'<th style="{_ROW_HEAD}"></th>'
        body.append(f'<tr style="{_ROW}">{label}{cells}</tr>')
    return (f'<div class="kirin-sweep-box" style="max-width:100%;overflow-x:auto;'
            f'margin:6px 0 2px"><table class="kirin-sweep-grid" style="{_TABLE}">'
            f'<thead><tr style="{_ROW}">{corner}{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def _axes_line(axes: list[Axis]) -> str:
    if len(axes) == 1:
        return f"columns: {axes[0].name}"
    return (f"rows: {' · '.join(a.name for a in axes[:-1])} · columns: {axes[-1].name}")


def money_line(sweep: Sweep) -> str:
    parts = [f"cost so far {_usd(sweep.cost)}" if not sweep.done() else
             f"cost {_usd(sweep.cost)}"]
    if sweep.price is not None:
        parts[0] += f" of about {_usd(sweep.price)}"
    batch = sweep.batch
    if batch.ended_at is not None:
        parts.append(f"took {batch.ended_at - batch.started_at:.0f} s")
    return " · ".join(parts)


def _header(sweep: Sweep, state: str) -> str:
    pills = [theme.pill(f"{len(sweep)} cells"), theme.state_pill(state)]
    if sweep.batch.client.simulated:
        pills.insert(1, theme.pill("simulator", theme.WARN,
                                   title="no API key: made by the built-in simulator"))
    return ('<div style="display:flex;flex-wrap:wrap;align-items:center;gap:4px 6px">'
            '<b style="margin-right:2px">Kirin sweep</b>'
            f'<span style="font-family:{theme.MONO};overflow-wrap:anywhere">'
            f'{escape(sweep.name)}</span>{"".join(pills)}</div>'
            f'<div style="color:{theme.MUTED};font-size:12px;margin:2px 0;'
            f'overflow-wrap:anywhere">{escape(_axes_line(sweep.plan.axes))}</div>')


def sweep_html(sweep: Sweep, *, final: bool) -> str:
    """The card: live (cells' states, no images, a bar) or final (the grid of images)."""
    counts = sweep.counts()
    state = _state(sweep, counts) if final else "running"
    live = "" if final else counts_html(counts) + progress_bar(
        (counts["done"] + counts["failed"]) / max(1, len(sweep)))
    role = "kirin-sweep-result" if final else "kirin-sweep-live"
    return (f'<div class="kirin-card kirin-sweep {role} {NO_MATH}" data-state="{state}" '
            f'style="{FIT_CARD_STYLE}">{_header(sweep, state)}{live}'
            f"{grid_html(sweep, images=final)}"
            f'<div style="color:{theme.MUTED};font-size:12px;margin-top:4px">'
            f"{escape(money_line(sweep))}</div></div>")


def sweep_text(sweep: Sweep) -> str:
    """The sweep in plain text: one line, then one line per cell."""
    counts = sweep.counts()
    lines = [f"Kirin sweep {sweep.name}: {len(sweep)} cells ({counts['done']} done, "
             f"{counts['failed']} failed, {counts['running']} running, {counts['queued']} "
             f"queued); {money_line(sweep)}"]
    results = sweep.results
    for index in range(len(sweep)):
        result = results[index]
        where = str(result.paths[0]) if result is not None and result.paths else \
            sweep.state(index)
        cost = f" ${result.cost}" if result is not None and result.cost is not None else ""
        lines.append(f"  {sweep.plan.describe(index)}:{cost} {where}")
    return "\n".join(lines)


def _plan_rows(plan: SweepPlan) -> list[list[str]]:
    rows = []
    for cell, quote in zip(plan.cells, plan.quotes, strict=True):
        price = f"${quote.cost}" if quote is not None and quote.cost is not None else "?"
        rows.append([str(cell.index + 1), *cell.labels, price])
    return rows


def _plan_note(plan: SweepPlan) -> str:
    note = f"total: {plan.price_text()} for {len(plan)} cells"
    if plan.over_budget:
        note += f"; over budget: {plan.over_budget}"
    return note


def plan_text(plan: SweepPlan, width: int | None = None) -> str:
    """The plan as an aligned table (one row per cell: its values and price) and the
    total: what ``--dry-run`` prints."""
    headers = ["#", *(cut(a.name, 24) for a in plan.axes), "price"]
    table = text_table(headers, _plan_rows(plan), width=width or 100)
    return f"Kirin sweep plan {plan.name}\n{table}\n{_plan_note(plan)}"


def plan_html(plan: SweepPlan) -> str:
    from .tables import plain

    headers = ["#", *(a.name for a in plan.axes), "price"]
    rows = [[plain(value) for value in row] for row in _plan_rows(plan)]
    return (f'<div class="kirin-sweep-plan {NO_MATH}">'
            f"{html_table(headers, rows, note=_plan_note(plan), css_class='kirin-table')}"
            "</div>")


def _draw(sweep: Sweep, final: bool) -> str:
    return sweep_html(sweep, final=final)


class FinalSweepView(FinalGroupView):
    """What replaces the live sweep card when the sweep ends."""

    def __init__(self, sweep: Sweep) -> None:
        super().__init__(sweep, _draw, sweep_text)
        self.sweep = sweep


class SweepCard(GroupCard):
    """The live sweep card: redrawn by the engine thread, replaced at the end."""

    def __init__(self, sweep: Sweep) -> None:
        super().__init__(sweep, _draw, FinalSweepView)
        self.sweep = sweep
