"""Past generations from the journal and the files on disk, as static HTML."""

from __future__ import annotations

import base64
import json
import time
from html import escape
from pathlib import Path
from typing import Any

from .static import CARD_STYLE, badge, excerpt, thumbnail_jpeg

_STATUS_COLOURS = {"completed": "#1a7f37", "failed": "#cf222e", "not_created": "#57606a"}


def _existing_paths(row: dict[str, Any]) -> list[Path]:
    return [Path(p) for p in json.loads(row.get("paths") or "[]") if Path(p).is_file()]


def _thumb(path: Path, side: int) -> str:
    try:
        data = base64.b64encode(thumbnail_jpeg(path, side)).decode("ascii")
    except OSError:
        return ""
    return (f'<img src="data:image/jpeg;base64,{data}" alt="{escape(path.name)}" '
            f'style="max-width:{side}px;max-height:{side}px;margin:1px">')


def history_html(rows: list[dict[str, Any]], thumb_side: int = 96) -> str:
    """One line per job: thumbnails, prompt, model, status, cost, date, ids."""
    if not rows:
        return f'<div style="{CARD_STYLE}">No generations in the journal yet.</div>'
    lines = []
    for row in rows:
        thumbs = "".join(_thumb(p, thumb_side) for p in _existing_paths(row)[:4])
        status = str(row["status"])
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(row["created_at"]))
        cost = f"${escape(str(row['cost']))}" if row.get("cost") else "-"
        lines.append(
            "<tr>"
            f"<td>{thumbs or '-'}</td>"
            f"<td>{escape(excerpt(str(row['prompt']), 80))}</td>"
            f"<td>{escape(str(row['model']))}</td>"
            f"<td>{badge(status, _STATUS_COLOURS.get(status, '#0969da'))}</td>"
            f"<td>{cost}</td><td>{when}</td>"
            f"<td><code>{escape(str(row.get('task_id') or '-'))}</code></td>"
            "</tr>"
        )
    return (
        f'<div style="{CARD_STYLE}"><table style="border-collapse:collapse">'
        "<tr><th>images</th><th>prompt</th><th>model</th><th>status</th><th>cost</th>"
        "<th>date</th><th>task</th></tr>" + "".join(lines) + "</table></div>"
    )


def history_text(rows: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{row['status']:<11} {row['model']:<17} {row.get('task_id') or '-':<20} "
        f"{row.get('cost') or '-':>6}  {excerpt(str(row['prompt']), 50)}"
        for row in rows
    ) or "No generations in the journal yet."


class HistoryView:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": history_html(self.rows), "text/plain": history_text(self.rows)}
