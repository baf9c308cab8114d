"""``%kirin show PATH`` (a file's own record) and ``%kirin lineage ID`` (its chain of
ancestors) as static HTML, with a plain-text fallback for terminals.

Static on purpose: a saved notebook, nbconvert or GitHub shows them without a kernel.
Thumbnails are small JPEGs (``thumbnails.thumbnail_jpeg``); colours come from ``theme``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..request import PLACEHOLDER, UNCHECKED
from ..thumbnails import thumbnail_jpeg
from . import theme
from .static import FIT_CARD_STYLE, NO_MATH
from .tables import ROW_STYLE, TABLE_STYLE, cut, short_id

if TYPE_CHECKING:
    from ..lineage import Node

THUMB_SIDE = 128  # px of the record card's thumbnail
CHAIN_SIDE = 112  # px of each thumbnail in a lineage row (three lines of its label)
# JupyterLab right-aligns, pads and stripes output tables (muted text on a stripe misses
# 4.5:1): the shared table styles undo that; these are the two columns on top.
_CELL = "border:none;text-align:left;vertical-align:top;max-width:none;padding:1px 0;"
_LABEL = f"{_CELL}padding-right:12px;white-space:nowrap;color:{theme.MUTED}"
_VALUE = f"{_CELL}white-space:normal;overflow-wrap:anywhere;color:{theme.TEXT}"
# A lineage label always takes three lines (more are clamped), so the ids under the
# labels line up across the row.
_LABEL_LINES = ("font-size:12px;line-height:16px;min-height:48px;margin-top:4px;"
                "overflow-wrap:anywhere;display:-webkit-box;-webkit-box-orient:vertical;"
                "-webkit-line-clamp:3;overflow:hidden")


def _thumb(path: Path | None, side: int) -> str:
    """A data-URI thumbnail, or an empty box of the same size when the file is gone."""
    box = (f"box-sizing:border-box;width:{side}px;height:{side}px;flex:none;border-radius:4px;"
           f"{theme.border(theme.BORDER_SOFT)}")
    try:
        if path is None:
            raise OSError
        data = base64.b64encode(thumbnail_jpeg(path, side * 2)).decode("ascii")
    except Exception:  # gone, unreadable, or a picture Pillow refuses (a bomb): a box
        return f'<div style="{box}"></div>'
    return (f'<img src="data:image/jpeg;base64,{data}" alt="{escape(path.name)}" '
            f'title="{escape(str(path))}" width="{side}" height="{side}" '
            f'style="{box}object-fit:cover;max-width:none;display:block">')


def _title(name: str, detail_html: str) -> str:
    """The bold name first, as on every other card ("Kirin sweep NAME")."""
    return ('<div style="display:flex;flex-wrap:wrap;align-items:baseline;gap:2px 8px">'
            f"<b>{escape(name)}</b>{detail_html}</div>")


def record_rows(record: dict[str, Any]) -> list[tuple[str, str]]:
    """The record as (label, value) lines, in the order a person reads them."""
    options = record.get("options") or {}
    rows = [("model", record.get("model")), ("prompt", record.get("prompt")),
            ("negative prompt", record.get("negative_prompt")),
            ("images", options.get("n")), ("resolution", options.get("resolution")),
            ("aspect ratio", options.get("aspect_ratio")),
            ("extra params", extra_params_text(options.get("extra_params"))),
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


def extra_params_text(extra: Any) -> str | None:
    """'result_type="single" (not checked by kirin-jupyter)', or None when there are none."""
    if not isinstance(extra, dict) or not extra:
        return None
    pairs = ", ".join(f"{key}={json.dumps(value, ensure_ascii=False)}"
                      for key, value in extra.items())
    return f"{pairs} ({UNCHECKED})"


class RecordView:
    """A file's record: a thumbnail and the parameters."""

    def __init__(self, record: dict[str, Any], path: Path) -> None:
        self.record = record
        self.path = path

    def html(self) -> str:
        cells = "".join(
            f'<tr style="{ROW_STYLE}"><td style="{_LABEL}">{escape(label)}</td>'
            f'<td style="{_VALUE}">{escape(value)}</td></tr>'
            for label, value in record_rows(self.record))
        title = (f'<span title="{escape(str(self.path))}" style="font-family:{theme.MONO};'
                 f'overflow-wrap:anywhere">{escape(str(self.path))}</span>')
        # The table goes under the picture where the two do not fit side by side.
        return (f'<div class="kirin-card kirin-record {NO_MATH}" style="{FIT_CARD_STYLE}">'
                f"{_title('Kirin record', title)}"
                '<div style="display:flex;flex-wrap:wrap;gap:8px 12px;align-items:flex-start;'
                f'margin-top:6px">{_thumb(self.path, THUMB_SIDE)}'
                '<div style="flex:1 1 260px;min-width:0">'
                f'<table class="kirin-record-table" style="{TABLE_STYLE}">'
                f"{cells}</table></div></div></div>")

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
        # Each later generation carries its arrow, so a row that wraps (a narrow output)
        # never leaves an arrow at the end of a line; the arrow is centred on the pictures.
        arrow = (f'<div aria-hidden="true" style="color:{theme.MUTED};font-size:18px;'
                 f'height:{CHAIN_SIDE}px;display:flex;align-items:center;flex:none">'
                 "&rarr;</div>")
        tiles = []
        for number, node in enumerate(self.nodes):
            first = next((p for p in node.paths if p.is_file()), None)
            label = cut(" ".join(PLACEHOLDER.sub(" ", node.prompt).split()).rstrip(" ,;:"), 44)
            tiles.append(
                '<div class="kirin-lineage-step" style="display:flex;gap:6px;flex:none">'
                f'{arrow if number else ""}'
                f'<div class="kirin-lineage-node" style="width:{CHAIN_SIDE}px;flex:none">'
                f"{_thumb(first, CHAIN_SIDE)}"
                f'<div style="{_LABEL_LINES}" title="{escape(node.prompt)}">{escape(label)}</div>'
                f'<div style="color:{theme.MUTED};font-size:11px;font-family:{theme.MONO};'
                f'margin-top:2px" title="{escape(node.task_id)}">'
                f"{escape(short_id(node.task_id))}</div></div></div>")
        count = len(self.nodes)
        what = (f'<span style="color:{theme.MUTED};font-size:12px">{count} generation'
                f'{"s" if count != 1 else ""}, oldest first</span>')
        return (f'<div class="kirin-card kirin-lineage {NO_MATH}" style="{FIT_CARD_STYLE}">'
                f"{_title('Kirin lineage', what)}"
                '<div style="display:flex;flex-wrap:wrap;gap:10px 6px;align-items:flex-start;'
                f'margin-top:6px">{"".join(tiles)}</div></div>')

    def text(self) -> str:
        lines = ["lineage, oldest first:"]
        for number, node in enumerate(self.nodes, start=1):
            first = next((p for p in node.paths if p.is_file()), None)
            lines.append(f"  {number}. {node.task_id}  {cut(' '.join(node.prompt.split()), 60)}"
                         + (f"\n     {first}" if first else ""))
        return "\n".join(lines)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": self.html(), "text/plain": self.text()}
