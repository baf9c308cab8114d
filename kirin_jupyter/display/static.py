"""The one card design, as static HTML: the live card and the finished card are both drawn
here, so the frame, header and chips stay where they are when a job ends.

What the saved notebook keeps: small JPEG thumbnails (never the full images), file paths,
the options, cost and finished time. Everything from a user or a server is HTML-escaped;
every colour is a theme variable (``theme.py``).
"""

from __future__ import annotations

import base64
import json
import math
import time
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..request import UNCHECKED, reference_labels
from ..thumbnails import THUMB_SIDE, prepare, thumbnail_jpeg
from . import theme
from .tables import cut, short_id

if TYPE_CHECKING:
    from ..job import Job, Result

__all__ = ["THUMB_SIDE", "FinalView", "card_html", "job_html", "result_html", "thumbnail_jpeg"]

CARD_STYLE = (
    f"box-sizing:border-box;{theme.border()}border-radius:8px;"
    f"padding:8px 12px;margin:4px 0;font-family:{theme.FONT};font-size:13px;"
    f"line-height:1.45;color:{theme.TEXT};max-width:1080px;min-width:0"
)
# Cards whose content does not fill a row (a sweep's grid, a record, a lineage) are as wide
# as that content, never wider than the output area (whose width max-width clamps: a grid
# that needs more scrolls inside the card).
FIT_CARD_STYLE = f"{CARD_STYLE};width:fit-content;max-width:min(1080px,100%)"
# JupyterLab's MathJax typesets text between two "$" in HTML output ("a $5 mug, a $9 cup",
# or a price next to a cost) unless an ancestor carries these classes.
NO_MATH = "tex2jax_ignore mathjax_ignore"
GAP = 8  # px between tiles
# Past this many columns tiles get too small at a notebook's default width.
MAX_COLUMNS = 4


def columns_for(count: int) -> int:
    """Tiles per row so rows fill: 4 → one row of 4, 9 → 3 × 3, 6 → 3 × 2, 8 → 4 × 2."""
    if count <= MAX_COLUMNS:
        return max(1, count)
    rows = math.ceil(count / MAX_COLUMNS)
    return min(MAX_COLUMNS, math.ceil(count / rows))


def _muted(text_html: str, extra: str = "") -> str:
    return f'<div style="color:{theme.MUTED};font-size:12px;{extra}">{text_html}</div>'


def header_html(model: str, prompt: str, *, simulated: bool, state: str,
                task_id: str | None = None, external_id: str = "") -> str:
    """Name, model, simulator mark and state on one line; the prompt under it."""
    pills = [theme.pill(model), theme.state_pill(state)]
    if simulated:
        pills.insert(1, theme.pill("simulator", theme.WARN,
                                   title="no API key: made by the built-in simulator"))
    task = ""
    if task_id:
        ids = f"task id {task_id}" + (f" · external id {external_id}" if external_id else "")
        task = (f'<span title="{escape(ids)}" style="font-family:{theme.MONO};'
                f'font-size:11px;color:{theme.MUTED};margin-left:auto;white-space:nowrap">'
                f"{escape(short_id(task_id))}</span>")
    return (
        '<div style="display:flex;flex-wrap:wrap;align-items:center;gap:4px 6px">'
        f'<b style="margin-right:2px">Kirin</b>{"".join(pills)}{task}</div>'
        f'<div class="kirin-prompt" title="{escape(cut(prompt, 1000))}" '
        f'style="margin:4px 0 2px;overflow-wrap:anywhere">{escape(cut(prompt, 240))}</div>'
    )


def option_chips(options: dict[str, Any]) -> str:
    """The options asked for, as chips: ``2 images`` ``16:9`` ``2k`` ``1 reference`` ..."""
    chips: list[str] = []
    n = options.get("n")
    if n is not None:
        chips.append(theme.pill(f"{n} image{'s' if n != 1 else ''}"))
    if options.get("aspect_ratio"):
        chips.append(theme.pill(f"ratio {options['aspect_ratio']}"))
    if options.get("resolution"):
        chips.append(theme.pill(str(options["resolution"])))
    labels = reference_labels(options.get("image_list", options.get("image")))
    if labels:
        chips.append(theme.pill(f"{len(labels)} reference{'s' if len(labels) != 1 else ''}",
                                title="\n".join(str(label) for label in labels)))
    if options.get("negative_prompt"):
        negative = str(options["negative_prompt"])
        chips.append(theme.pill("not: " + cut(negative, 32), title=cut(negative, 500)))
    elements = options.get("element_list")
    if elements:
        chips.append(theme.pill(f"{len(elements)} element{'s' if len(elements) != 1 else ''}"))
    watermark = options.get("watermark_info")
    if isinstance(watermark, dict) and "enabled" in watermark:
        chips.append(theme.pill("watermark " + ("on" if watermark["enabled"] else "off")))
    extra = options.get("extra_params")
    if isinstance(extra, dict) and extra:
        chips.append(theme.pill(f"{len(extra)} extra param{'s' if len(extra) != 1 else ''}",
                                title=cut("\n".join(
                                    f"{key} = {json.dumps(value, ensure_ascii=False)}"
                                    for key, value in extra.items()), 500)
                                + f"\n(sent as given, {UNCHECKED})"))
    if not chips:
        return ""
    return ('<div class="kirin-chips" style="display:flex;flex-wrap:wrap;gap:4px;'
            f'margin:2px 0 6px">{"".join(chips)}</div>')


def progress_bar(fraction: float, colour: str = theme.ACCENT) -> str:
    percent = max(0.0, min(1.0, fraction)) * 100
    return (
        f'<div class="kirin-bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" '
        f'aria-valuenow="{percent:.0f}" style="height:6px;border-radius:3px;'
        f'background:{theme.BORDER_SOFT};overflow:hidden;margin:6px 0 4px">'
        f'<div class="kirin-bar-fill" style="width:{percent:.1f}%;height:100%;'
        f'background:{colour};border-radius:3px"></div></div>'
    )


def card_html(*, model: str, prompt: str, simulated: bool, state: str, task_id: str | None,
              options: dict[str, Any], body: str, footer: str, role: str = "kirin-live",
              external_id: str = "") -> str:
    """The frame every card shares; ``role`` (kirin-live, kirin-result, kirin-error) says
    which it is to tests and to the panel."""
    return (
        f'<div class="kirin-card {role} {NO_MATH}" data-state="{escape(state)}" '
        f'style="{CARD_STYLE}">'
        + header_html(model, prompt, simulated=simulated, state=state, task_id=task_id,
                      external_id=external_id)
        + option_chips(options)
        + body
        + _muted(footer, "margin-top:4px")
        + "</div>"
    )


def _finished_text(finished_at: float | None) -> str:
    finished = finished_at if finished_at is not None else time.time()
    return "finished " + time.strftime("%Y-%m-%d %H:%M", time.localtime(finished))


def _cost_text(cost: Any) -> str:
    return "" if cost is None else f" · cost ${escape(str(cost))}"


def _tile(index: int, path: Path, kind: str) -> str:
    """One result: its thumbnail (a link to the full file) over its file name. The caption's
    size and colour come from the gallery, said once rather than once per tile."""
    caption = (f'<div style="overflow-wrap:anywhere" title="{escape(str(path))}">'
               f"{escape(path.name)}</div>")
    if kind == "image":
        data = base64.b64encode(thumbnail_jpeg(path)).decode("ascii")
        # max-width: never blown up past its pixels where a viewer drops the grid's styles.
        media = (f'<img src="data:image/jpeg;base64,{data}" alt="result {index + 1}" '
                 f'style="display:block;width:100%;height:auto;max-width:{THUMB_SIDE}px;'
                 'border-radius:4px">')
        if not path.is_absolute():  # the full image only when asked for: a click away
            media = f'<a href="{escape(path.as_posix())}" target="_blank">{media}</a>'
    elif kind == "video" and not path.is_absolute():
        media = (f'<video src="{escape(path.as_posix())}" controls '
                 'style="display:block;width:100%"></video>')
    else:
        media = f"<div>{escape(kind)} saved</div>"
    return f'<div class="kirin-tile" style="min-width:0">{media}{caption}</div>'


def gallery_html(paths: list[Path], types: list[str]) -> str:
    """Tiles on a grid whose rows fill: as wide as the tiles need, never wider than the cell."""
    if not paths:
        return ""
    columns = columns_for(len(paths))
    width = columns * THUMB_SIDE + (columns - 1) * GAP
    prepare([path for index, path in enumerate(paths)
             if (types[index] if index < len(types) else "image") == "image"])
    tiles = "".join(
        _tile(index, path, types[index] if index < len(types) else "image")
        for index, path in enumerate(paths)
    )
    return (f'<div class="kirin-gallery" style="display:grid;grid-template-columns:'
            f'repeat({columns},minmax(0,1fr));gap:{GAP}px;max-width:{width}px;'
            f'margin:6px 0 2px;font-size:11px;color:{theme.MUTED}">{tiles}</div>')


def _metadata_html(metadata: dict[str, Any]) -> str:
    """What the service said about the result beyond the simulator mark, folded away."""
    extra = {key: value for key, value in metadata.items() if key != "simulated"}
    if not extra:
        return ""
    shown = json.dumps(extra, ensure_ascii=False, default=str)[:2000]
    return (f'<details style="font-size:11px;color:{theme.MUTED}"><summary>service metadata'
            f'</summary><span style="font-family:{theme.MONO};overflow-wrap:anywhere">'
            f"{escape(shown)}</span></details>")


def result_html(result: Result) -> str:
    """The finished card: the gallery, then how many, when and what it cost."""
    count = len(result.paths)
    footer = (f"{count} result{'s' if count != 1 else ''} · {_finished_text(result.finished_at)}"
              f"{_cost_text(result.cost)}")
    body = gallery_html(result.paths, result.types) + _metadata_html(result.metadata)
    return card_html(model=result.model, prompt=result.prompt, simulated=result.simulated,
                     state="completed", task_id=result.task_id, options=result.options,
                     body=body, footer=footer, role="kirin-result",
                     external_id=result.external_task_id)


def live_status(job: Job) -> str:
    """'12.3 s · 45 % · about $0.28 (quoted by the service)'; a percentage the service did
    not send is marked '~45 % (estimated)'."""
    parts = [f"{job.elapsed:.1f} s"]
    if job.status not in ("completed", "failed"):
        percent = f"{job.progress * 100:.0f} %"
        parts.append(f"~{percent} (estimated)" if job.progress_is_estimate else percent)
    if job.cost is not None:
        parts.append(f"cost ${escape(str(job.cost))}")
    elif job.quote is not None and job.quote.known and job.status != "failed":
        parts.append(escape(job.quote.describe()))
    return " · ".join(parts)


def live_html(job: Job) -> str:
    """The card while the job runs: the same frame, a bar where the gallery will be."""
    return card_html(model=job.model, prompt=job.prompt, simulated=job.simulated,
                     state=job.status, task_id=job.task_id, options=job.request.options,
                     body=progress_bar(job.progress), footer=live_status(job))


def error_html(job: Job) -> str:
    message = str(job.error) if job.error else "failed"
    body = (f'<div class="kirin-message" role="alert" style="display:flex;gap:6px;'
            f"align-items:baseline;border-left:3px solid {theme.ERROR};padding:2px 8px;"
            f'margin:6px 0 2px;overflow-wrap:anywhere">{escape(message)}</div>')
    footer = (f"after {job.elapsed:.1f} s · external id <span style=\"font-family:{theme.MONO};"
              f'overflow-wrap:anywhere">{escape(job.external_task_id)}</span>')
    return card_html(model=job.model, prompt=job.prompt, simulated=job.simulated,
                     state="failed", task_id=job.task_id, options=job.request.options,
                     body=body, footer=footer, role="kirin-error")


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
    lines += [f"  {path}" for path in result.paths]
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
