"""``%kirin show PATH`` (a file's own record) and ``%kirin lineage ID`` (its chain of
ancestors) as static HTML, with a plain-text fallback for terminals.

Static on purpose: a saved notebook, nbconvert or GitHub shows them without a kernel.
Thumbnails are small JPEGs (``thumbnails.thumbnail_jpeg``); colours come from ``theme``.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..thumbnails import thumbnail_jpeg
from . import theme
from .static import CARD_STYLE, NO_MATH
from .tables import cut, short_id

if TYPE_CHECKING:
    from ..lineage import Node

THUMB_SIDE = 128  # px of the record card's thumbnail
CHAIN_SIDE = 96  # px of each thumbnail in a lineage row


def _thumb(path: Path | None, side: int) -> str:
    """A data-URI thumbnail, or an empty box of the same size when the file is gone."""
    box = (f"width:{side}px;height:{side}px;flex:none;border-radius:4px;"
           f"{theme.border(theme.BORDER_SOFT)}")
    try:
        if path is None:
            raise OSError
        data = base64.b64encode(thumbnail_jpeg(path, side * 2)).decode("ascii")
    except (OSError, ValueError):
        return f'<div style="{box}"></div>'
    return (f'<img src="data:image/jpeg;base64,{data}" alt="{escape(path.name)}" '
            f'title="{escape(str(path))}" width="{side}" height="{side}" '
            f'style="{box}object-fit:cover;max-width:none;display:block">')


def record_rows(record: dict[str, Any]) -> list[tuple[str, str]]:
    """The record as (label, value) lines, in the order a person reads them."""
    options = record.get("options") or {}
    rows = [("model", record.get("model")), ("prompt", record.get("prompt")),
            ("negative prompt", record.get("negative_prompt")),
            ("images", options.get("n")), ("resolution", options.get("resolution")),
            ("aspect ratio", options.get("aspect_ratio")),
            ("task id", record.get("task_id")),
            ("external id", record.get("external_task_id")),
            ("cost", f"${record['cost']}" if record.get("cost") is not None else None),
            ("created", record.get("created_at")), ("finished", record.get("finished_at"))]
    for number, ref in enumerate(record.get("references") or [], start=1):
        if not isinstance(ref, dict):
            continue
        parent = f", result of task {ref['parent_task_id']}" if ref.get("parent_task_id") \
            else ""
        rows.append((f"reference {number}",
                     f"{ref.get('label', '')} sha256:{str(ref.get('sha256', ''))[:16]}{parent}"))
    rows.append(("file", f"image {record.get('image', '?')} of {record.get('images', '?')}"))
    rows.append(("kirin-jupyter", record.get("version")))
    return [(label, str(value)) for label, value in rows if value not in (None, "")]


class RecordView:
    """A file's record: a thumbnail and the parameters."""

    def __init__(self, record: dict[str, Any], path: Path) -> None:
        self.record = record
        self.path = path

    def html(self) -> str:
        cells = "".join(
            f'<tr><td style="color:{theme.MUTED};padding:1px 12px 1px 0;vertical-align:top;'
            f'white-space:nowrap">{escape(label)}</td>'
            f'<td style="padding:1px 0;overflow-wrap:anywhere">{escape(value)}</td></tr>'
            for label, value in record_rows(self.record))
        return (f'<div class="kirin-record {NO_MATH}" style="{CARD_STYLE}">'
                f'<div style="color:{theme.MUTED};font-size:12px;margin-bottom:6px">'
                f"kirin record in {escape(str(self.path))}</div>"
                '<div style="display:flex;gap:12px;align-items:flex-start">'
                f"{_thumb(self.path, THUMB_SIDE)}"
                f'<table style="border-collapse:collapse;font-size:12px;color:{theme.TEXT}">'
                f"{cells}</table></div></div>")

    def text(self) -> str:
        rows = record_rows(self.record)
        width = max(len(label) for label, _ in rows)
        return "\n".join([f"kirin record in {self.path}"]
                         + [f"  {label:<{width}}  {value}" for label, value in rows])

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": self.html(), "text/plain": self.text()}


class LineageView:
    """A chain of generations, oldest first, as a row of thumbnails with short labels."""

    def __init__(self, nodes: Sequence[Node]) -> None:
        self.nodes = list(nodes)

    def html(self) -> str:
        arrow = (f'<div aria-hidden="true" style="color:{theme.MUTED};align-self:center;'
                 'font-size:18px;flex:none">&rarr;</div>')
        tiles = []
        for node in self.nodes:
            first = next((p for p in node.paths if p.is_file()), None)
            tiles.append(
                f'<div class="kirin-lineage-node" style="width:{CHAIN_SIDE + 24}px;flex:none">'
                f"{_thumb(first, CHAIN_SIDE)}"
                f'<div style="font-size:12px;margin-top:3px;overflow-wrap:anywhere" '
                f'title="{escape(node.prompt)}">{escape(cut(" ".join(node.prompt.split()), 40))}'
                f'</div><div style="color:{theme.MUTED};font-size:11px;font-family:{theme.MONO}"'
                f' title="{escape(node.task_id)}">{escape(short_id(node.task_id))}</div></div>')
        count = len(self.nodes)
        return (f'<div class="kirin-lineage {NO_MATH}" style="{CARD_STYLE}">'
                f'<div style="color:{theme.MUTED};font-size:12px;margin-bottom:6px">lineage: '
                f'{count} generation{"s" if count != 1 else ""}, oldest first</div>'
                '<div style="display:flex;gap:6px;overflow-x:auto;align-items:flex-start">'
                + arrow.join(tiles) + "</div></div>")

    def text(self) -> str:
        lines = ["lineage, oldest first:"]
        for number, node in enumerate(self.nodes, start=1):
            first = next((p for p in node.paths if p.is_file()), None)
            lines.append(f"  {number}. {node.task_id}  {cut(' '.join(node.prompt.split()), 60)}"
                         + (f"\n     {first}" if first else ""))
        return "\n".join(lines)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": self.html(), "text/plain": self.text()}
