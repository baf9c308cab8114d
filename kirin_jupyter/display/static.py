"""The one card design, as static HTML: the live card and the finished card are both drawn
here, so the frame, header and chips stay where they are when a job ends.

What the saved notebook keeps: small JPEG thumbnails (never the full images), file paths
relative to the notebook (``paths.py``), the options, cost and finished time. Everything
from a user or a server is HTML-escaped; every colour is a theme variable, in the one style
block each card starts with (``css.py``).
"""

from __future__ import annotations

import base64
import json
import math
import time
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..base.money import usd
from ..model.request import UNCHECKED, reference_labels
from ..storage.thumbnails import THUMB_SIDE, prepare, thumbnail_jpeg
from . import css, theme
from .paths import link, shown_path
from .tables import cut, short_id

if TYPE_CHECKING:
    from ..engine.job import Job, Result
    from .tile_marks import Tiles

__all__ = ["THUMB_SIDE", "FinalView", "card_html", "job_html", "result_html", "thumbnail_jpeg"]

# Untrusted (no <style>): the card's outline, padding and width said plainly.
CARD_FALLBACK = (f"border:1px solid {theme.PLAIN_BORDER};border-radius:8px;padding:8px 12px;"
                 "margin:4px 0;max-width:1080px;box-sizing:border-box;font-size:13px;"
                 "line-height:1.45")
# Cards whose content does not fill a row (a sweep's grid, a record, a lineage) are as wide
# as that content, never wider than the output area (a grid that needs more scrolls inside
# the card): class ``kirin-fit``.
FIT = "kirin-fit"
# JupyterLab's MathJax typesets text between two "$" in HTML output ("a $5 mug, a $9 cup",
# or a price next to a cost) unless an ancestor carries these classes.
NO_MATH = "tex2jax_ignore mathjax_ignore"
GAP = 8  # px between tiles
# Past this many columns tiles get too small at a notebook's default width.
MAX_COLUMNS = 4
# Untrusted, the header and the chips keep their flowing rows, and a failure its red rule.
ROW_FALLBACK = "display:flex;flex-wrap:wrap;align-items:center;gap:4px 6px"
MESSAGE_FALLBACK = f"border-left:3px solid {theme.plain(theme.ERROR)};padding:2px 8px"


def columns_for(count: int) -> int:
    """Tiles per row so rows fill: 4 → one row of 4, 9 → 3 × 3, 6 → 3 × 2, 8 → 4 × 2."""
    if count <= MAX_COLUMNS:
        return max(1, count)
    rows = math.ceil(count / MAX_COLUMNS)
    return min(MAX_COLUMNS, math.ceil(count / rows))


def card_open(classes: str, *parts: str, state: str = "", fit: bool = False) -> str:
    """The opening of a card: its frame's classes, then its style block (the card's rules
    and those of ``parts``). Close it with ``</div>``."""
    data = f' data-state="{escape(state)}"' if state else ""
    width = f" {FIT}" if fit else ""
    return (f'<div class="kirin kirin-card{width} {classes} {NO_MATH}"{data} '
            f'style="{CARD_FALLBACK}">{css.style("card", *parts)}')


def foot(text_html: str) -> str:
    """A card's last line (cost, time, where to go next), small and muted."""
    return f'<div class="kirin-foot" style="font-size:12px">{text_html}</div>'


def title_row(name: str, pills: str, after: str = "") -> str:
    """The bold name, then the pills (and whatever ``after`` holds), on one wrapping row."""
    return (f'<div class="kirin-head" style="{ROW_FALLBACK}"><b>{escape(name)}</b>'
            f"{pills}{after}</div>")


def header_html(model: str, prompt: str, *, simulated: bool, state: str,
                task_id: str | None = None, external_id: str = "") -> str:
    """Name, model, simulator mark and state on one line; the prompt under it."""
    pills = [css.pill(model), css.state_pill(state)]
    if simulated:
        pills.insert(1, simulator_pill())
    task = ""
    if task_id:
        ids = f"task id {task_id}" + (f" · external id {external_id}" if external_id else "")
        task = (f'<span class="kirin-id" title="{escape(ids)}" '
                f'style="margin-left:auto;font-size:11px">'
                f"{escape(short_id(task_id))}</span>")
    return (title_row("Kirin", "".join(pills), task)
            + f'<div class="kirin-prompt" title="{escape(cut(prompt, 1000))}">'
            f"{escape(cut(prompt, 240))}</div>")


def simulator_pill() -> str:
    return css.pill("simulator", theme.WARN, title="no API key: made by the built-in simulator")


def option_chips(options: dict[str, Any]) -> str:
    """The options asked for, as chips: ``2 images`` ``16:9`` ``2k`` ``1 reference`` ..."""
    pill = css.pill
    chips: list[str] = []
    n = options.get("n")
    series = options.get("series_amount") if options.get("result_type") == "series" else None
    if series is not None:  # the service ignores n for a series: said, not hidden
        chips.append(pill(f"series of {series} · n ignored",
                          title=f"n = {n} is ignored for a series"))
    elif n is not None:
        chips.append(pill(f"{n} image{'s' if n != 1 else ''}"))
    if options.get("aspect_ratio"):
        chips.append(pill(f"ratio {options['aspect_ratio']}"))
    if options.get("resolution"):
        chips.append(pill(str(options["resolution"])))
    labels = reference_labels(options.get("image_list", options.get("image")))
    if labels:
        chips.append(pill(f"{len(labels)} reference{'s' if len(labels) != 1 else ''}",
                                title="\n".join(str(label) for label in labels)))
    if options.get("negative_prompt"):
        negative = str(options["negative_prompt"])
        chips.append(pill("not: " + cut(negative, 32), title=cut(negative, 500)))
    elements = options.get("element_list")
    if elements:
        chips.append(pill(f"{len(elements)} element{'s' if len(elements) != 1 else ''}"))
    watermark = options.get("watermark_info")
    if isinstance(watermark, dict) and "enabled" in watermark:
        chips.append(pill("watermark " + ("on" if watermark["enabled"] else "off")))
    extra = options.get("extra_params")
    if isinstance(extra, dict) and extra:
        chips.append(pill(f"{len(extra)} extra param{'s' if len(extra) != 1 else ''}",
                                title=cut("\n".join(
                                    f"{key} = {json.dumps(value, ensure_ascii=False)}"
                                    for key, value in extra.items()), 500)
                                + f"\n(sent as given, {UNCHECKED})"))
    if not chips:
        return ""
    return (f'<div class="kirin-chips" style="{ROW_FALLBACK};margin:2px 0 6px">'
            f'{"".join(chips)}</div>')


def progress_bar(fraction: float) -> str:
    """A thin bar; untrusted, a plain grey track and fill (the fill's width is the news)."""
    percent = max(0.0, min(1.0, fraction)) * 100
    return (
        f'<div class="kirin-bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" '
        f'aria-valuenow="{percent:.0f}" style="height:6px;background:{theme.TRACK}">'
        f'<div class="kirin-bar-fill" style="width:{percent:.1f}%;height:100%;'
        f'background:{theme.plain(theme.ACCENT)}"></div></div>'
    )


def card_html(*, model: str, prompt: str, simulated: bool, state: str, task_id: str | None,
              options: dict[str, Any], body: str, footer: str, role: str = "kirin-live",
              external_id: str = "", parts: tuple[str, ...] = ()) -> str:
    """The frame every card shares; ``role`` (kirin-live, kirin-result, kirin-error) says
    which it is to tests and to the panel; ``parts``: the style rules ``body`` needs."""
    return (
        card_open(role, *parts, state=state)
        + header_html(model, prompt, simulated=simulated, state=state, task_id=task_id,
                      external_id=external_id)
        + option_chips(options)
        + body
        + foot(footer)
        + "</div>"
    )


def _finished_text(finished_at: float | None) -> str:
    finished = finished_at if finished_at is not None else time.time()
    return "finished " + time.strftime("%Y-%m-%d %H:%M", time.localtime(finished))


def _cost_text(cost: Any) -> str:
    return "" if cost is None else f" · cost {usd(cost)}"


def _tile(index: int, path: Path, kind: str, marks: str = "") -> str:
    """One result: its thumbnail (a link to the full file where a link reaches it) over its
    file name. The caption's size and colour come from the gallery's rule."""
    shown = shown_path(path)
    caption = f'<div title="{escape(shown)}">{escape(path.name)}</div>'
    href = link(path)
    if kind == "image":
        data = base64.b64encode(thumbnail_jpeg(path)).decode("ascii")
        media = f'<img src="data:image/jpeg;base64,{data}" alt="result {index + 1}">'
        if href is not None:  # the full image only when asked for: a click away
            media = f'<a href="{escape(href)}" target="_blank">{media}</a>'
    elif kind == "video" and href is not None:
        media = f'<video src="{escape(href)}" controls></video>'
    else:
        media = f"<div>{escape(kind)} saved</div>"
    return f'<div class="kirin-tile">{media}{caption}{marks}</div>'


def gallery_html(paths: list[Path], types: list[str], marks: list[str] | None = None) -> str:
    """Tiles on a grid whose rows fill: as wide as the tiles need, never wider than the cell;
    ``marks``: each tile's marks row. (Its columns are said inline: they differ from card
    to card.)"""
    if not paths:
        return ""
    columns = columns_for(len(paths))
    width = columns * THUMB_SIDE + (columns - 1) * GAP
    prepare([path for index, path in enumerate(paths)
             if (types[index] if index < len(types) else "image") == "image"])
    tiles = "".join(
        _tile(index, path, types[index] if index < len(types) else "image",
              marks[index] if marks and index < len(marks) else "")
        for index, path in enumerate(paths)
    )
    return (f'<div class="kirin-gallery" style="display:grid;grid-template-columns:'
            f'repeat({columns},minmax(0,1fr));gap:{GAP}px;max-width:{width}px;font-size:11px">'
            f"{tiles}</div>")


def _metadata_html(metadata: dict[str, Any]) -> str:
    """What the service said about the result beyond the simulator mark, folded away."""
    extra = {key: value for key, value in metadata.items() if key != "simulated"}
    if not extra:
        return ""
    shown = json.dumps(extra, ensure_ascii=False, default=str)[:2000]
    return (f'<details class="kirin-meta"><summary>service metadata</summary>'
            f'<span class="kirin-mono" style="overflow-wrap:anywhere">{escape(shown)}</span>'
            "</details>")


def result_html(result: Result, tiles: Tiles | None = None) -> str:
    """The finished card: the gallery, then how many, when and what it cost. Each tile's
    marks are static text, or with live ``tiles`` a slot for the live card's buttons."""
    from .marks import signed_note
    from .tile_marks import Tiles

    count = len(result.paths)
    footer = (f"{count} result{'s' if count != 1 else ''} · {_finished_text(result.finished_at)}"
              f"{_cost_text(result.cost)}{signed_note(result)}")
    tiles = tiles if tiles is not None else Tiles()
    kinds = [result.types[i] if i < len(result.types) else "image"
             for i in range(len(result.paths))]
    marks = [tiles.row(result, index, path.name, clickable=kinds[index] == "image")
             for index, path in enumerate(result.paths)]
    body = gallery_html(result.paths, result.types, marks) + _metadata_html(result.metadata)
    return card_html(model=result.model, prompt=result.prompt, simulated=result.simulated,
                     state="completed", task_id=result.task_id, options=result.options,
                     body=body, footer=footer, role="kirin-result",
                     external_id=result.external_task_id, parts=("gallery",))


def live_status(job: Job) -> str:
    """'12.3 s · 45 % · about $0.28 (quoted by the service)'; a percentage the service did
    not send is marked '~45 % (estimated)'."""
    parts = [f"{job.elapsed:.1f} s"]
    if job.status not in ("completed", "failed"):
        percent = f"{job.progress * 100:.0f} %"
        parts.append(f"~{percent} (estimated)" if job.progress_is_estimate else percent)
    if job.cost is not None:
        parts.append(f"cost {usd(job.cost)}")
    elif job.quote is not None and job.quote.known and job.status != "failed":
        parts.append(escape(job.quote.describe()))
    return " · ".join(parts)


def live_html(job: Job) -> str:
    """The card while the job runs: the same frame, a bar where the gallery will be."""
    return card_html(model=job.model, prompt=job.prompt, simulated=job.simulated,
                     state=job.status, task_id=job.task_id, options=job.request.options,
                     body=progress_bar(job.progress), footer=live_status(job), parts=("bar",))


def live_frame(job: Job) -> str:
    """``live_html`` without its moving parts (the bar at 0, no status line): what the live
    widget redraws only when it changes (``live_view.LiveView``)."""
    return card_html(model=job.model, prompt=job.prompt, simulated=job.simulated,
                     state=job.status, task_id=job.task_id, options=job.request.options,
                     body=progress_bar(0.0), footer="", parts=("bar",))


def error_html(job: Job) -> str:
    message = str(job.error) if job.error else "failed"
    body = (f'<div class="kirin-message" role="alert" style="{MESSAGE_FALLBACK}">'
            f"{escape(message)}</div>")
    footer = (f'after {job.elapsed:.1f} s · external id <span class="kirin-mono" '
              f'style="overflow-wrap:anywhere">{escape(job.external_task_id)}</span>')
    return card_html(model=job.model, prompt=job.prompt, simulated=job.simulated,
                     state="failed", task_id=job.task_id, options=job.request.options,
                     body=body, footer=footer, role="kirin-error", parts=("message",))


def job_html(job: Job) -> str:
    """Any job as it stands now: finished, failed, or a snapshot of the live card."""
    if job.result is not None:
        return result_html(job.result)
    if job.status == "failed":
        return error_html(job)
    return live_html(job)


def result_text(result: Result) -> str:
    count = len(result.paths)
    plural = "s" if count != 1 else ""
    lines = [f"Kirin {result.model} task {result.task_id}: {count} result{plural}"
             f" ({_finished_text(result.finished_at)}{_cost_text(result.cost)})"]
    lines += [f"  {shown_path(path)}" for path in result.paths]
    return "\n".join(lines)


def job_text(job: Job) -> str:
    if job.result is not None:
        return result_text(job.result)
    if job.status == "failed":
        return f"Kirin job failed: {job.error}"
    return f"Kirin {job.model} {job.status} · {live_status(job)}"


class FinalView:
    """What replaces the live card when a job ends: HTML plus a plain-text fallback."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": job_html(self.job), "text/plain": job_text(self.job)}
