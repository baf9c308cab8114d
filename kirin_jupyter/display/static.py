"""Static HTML for finished jobs: what the saved notebook keeps and shows without a kernel.

Small JPEG thumbnails (never the full images), file paths, cost and provenance. Everything
that came from a user or a server is HTML-escaped.
"""

from __future__ import annotations

import base64
import json
import time
from html import escape
from typing import TYPE_CHECKING, Any

from ..thumbnails import THUMB_SIDE, thumbnail_jpeg

if TYPE_CHECKING:
    from ..job import Job, Result

__all__ = ["THUMB_SIDE", "FinalView", "result_html", "thumbnail_jpeg"]


CARD_STYLE = (
    "border:1px solid #d0d7de;border-radius:8px;padding:8px 12px;margin:4px 0;"
    "font-family:system-ui,sans-serif;font-size:13px;max-width:960px"
)
BADGE_STYLE = (
    "display:inline-block;padding:0 6px;border-radius:8px;font-size:11px;margin-left:6px;"
)


def badge(text: str, colour: str) -> str:
    return f'<span style="{BADGE_STYLE}background:{colour};color:white">{escape(text)}</span>'


def excerpt(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def header_html(model: str, prompt: str, *, simulated: bool, task_id: str | None,
                extra: str = "") -> str:
    badges = badge(model, "#57606a")
    if simulated:
        badges += badge("simulator", "#bf8700")
    task = f' <code style="font-size:11px">{escape(task_id)}</code>' if task_id else ""
    return (
        f"<div><b>Kirin</b>{badges}{task}{extra}</div>"
        f'<div style="color:#57606a;margin:2px 0">{escape(excerpt(prompt))}</div>'
    )


def _cost_text(cost: Any) -> str:
    return "" if cost is None else f" · cost ${escape(str(cost))}"


def result_html(result: Result) -> str:
    """The gallery of a finished job: thumbnails linked to nothing, captions with paths."""
    cells = []
    for index, path in enumerate(result.paths):
        kind = result.types[index] if index < len(result.types) else "image"
        caption = f'<div style="font-size:11px;color:#57606a">{escape(str(path))}</div>'
        if kind == "image":
            data = base64.b64encode(thumbnail_jpeg(path)).decode("ascii")
            media = (
                f'<img src="data:image/jpeg;base64,{data}" alt="result {index + 1}" '
                f'style="max-width:{THUMB_SIDE}px;max-height:{THUMB_SIDE}px;border-radius:4px">'
            )
            if not path.is_absolute():  # the full image only when asked for: a click away
                media = f'<a href="{escape(path.as_posix())}" target="_blank">{media}</a>'
        elif kind == "video" and not path.is_absolute():
            media = (f'<video src="{escape(path.as_posix())}" controls '
                     f'style="max-width:{THUMB_SIDE}px"></video>')
        else:
            media = f"<div>{escape(kind)} saved</div>"
        cells.append(f'<div style="margin:4px">{media}{caption}</div>')
    finished = result.finished_at if result.finished_at is not None else time.time()
    when = "finished " + time.strftime("%Y-%m-%d %H:%M", time.localtime(finished))
    info = (
        f'<div style="color:#57606a;font-size:12px">{len(result.paths)} '
        f"result{'s' if len(result.paths) != 1 else ''} · {when}{_cost_text(result.cost)}"
        f" · external id <code>{escape(result.external_task_id)}</code></div>"
    )
    if result.metadata:
        shown = json.dumps(result.metadata, ensure_ascii=False, default=str)[:2000]
        info += (
            '<details style="font-size:11px;color:#57606a"><summary>metadata</summary>'
            f"<code>{escape(shown)}</code></details>"
        )
    return (
        f'<div class="kirin-result" style="{CARD_STYLE}">'
        + header_html(result.model, result.prompt, simulated=result.simulated,
                      task_id=result.task_id, extra=badge("done", "#1a7f37"))
        + info
        + f'<div style="display:flex;flex-wrap:wrap">{"".join(cells)}</div></div>'
    )


def result_text(result: Result) -> str:
    lines = [f"Kirin {result.model} task {result.task_id}: {len(result.paths)} result(s)"]
    lines += [f"  {path}" for path in result.paths]
    if result.cost is not None:
        lines.append(f"  cost ${result.cost}")
    return "\n".join(lines)


def error_html(job: Job) -> str:
    message = str(job.error) if job.error else "failed"
    return (
        f'<div class="kirin-error" style="{CARD_STYLE};border-color:#cf222e">'
        + header_html(job.model, job.prompt, simulated=job.simulated, task_id=job.task_id,
                      extra=badge("failed", "#cf222e"))
        + f'<div style="color:#cf222e">{escape(message)}</div>'
        + f'<div style="color:#57606a;font-size:12px">external id '
        f"<code>{escape(job.external_task_id)}</code> · after {job.elapsed:.1f} s</div></div>"
    )


def job_html(job: Job) -> str:
    if job.result is not None:
        return result_html(job.result)
    if job.status == "failed":
        return error_html(job)
    return (
        f'<div style="{CARD_STYLE}">'
        + header_html(job.model, job.prompt, simulated=job.simulated, task_id=job.task_id,
                      extra=badge(job.status, "#0969da"))
        + f'<div style="color:#57606a;font-size:12px">{job.elapsed:.1f} s</div></div>'
    )


class FinalView:
    """What replaces the live card when a job ends: HTML plus a plain-text fallback."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        job = self.job
        if job.result is not None:
            return {"text/html": result_html(job.result), "text/plain": result_text(job.result)}
        return {"text/html": job_html(job), "text/plain": f"Kirin job failed: {job.error}"}
