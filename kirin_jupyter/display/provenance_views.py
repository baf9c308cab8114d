"""``%kirin show PATH`` (a file's own record) and ``%kirin lineage ID`` (its chain of
ancestors) as static HTML, with a plain-text fallback for terminals.

Static on purpose: a saved notebook, nbconvert or GitHub shows them without a kernel.
Thumbnails are small JPEGs (``thumbnails.thumbnail_jpeg``); colours come from the theme,
in one style block per output (``css.py``); paths are shown relative to the notebook.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..base.money import usd
from ..model.request import PLACEHOLDER, UNCHECKED
from ..storage.thumbnails import thumbnail_jpeg
from . import theme
from .paths import shown_path
from .static import card_open, title_row
from .tables import cut, short_id

if TYPE_CHECKING:
    from ..lineage import Node

THUMB_SIDE = 128  # px of the record card's thumbnail
CHAIN_SIDE = 112  # px of each thumbnail in a lineage row (three lines of its label)
_ROW_FALLBACK = "display:flex;flex-wrap:wrap;gap:8px 12px;align-items:flex-start;margin-top:6px"
# Untrusted, JupyterLab's table rules would right-align and stripe the record's lines.
_TD_FALLBACK = "text-align:left;vertical-align:top;padding:1px 12px 1px 0"


def _thumb(path: Path | None, side: int, *, title: str = "") -> str:
    """A square data-URI thumbnail (cropped when made), or an empty box of the same size
    when the file is gone."""
    try:
        if path is None:
            raise OSError
        data = base64.b64encode(thumbnail_jpeg(path, side * 2, square=True)).decode("ascii")
    except Exception:  # gone, unreadable, or a picture Pillow refuses (a bomb): a box
        return (f'<div class="kirin-thumb" style="width:{side}px;height:{side}px;'
                f'border:1px solid {theme.PLAIN_RULE}"></div>')
    hint = title or shown_path(path)
    return (f'<img class="kirin-thumb" src="data:image/jpeg;base64,{data}" '
            f'alt="{escape(path.name)}" title="{escape(hint)}" width="{side}" height="{side}" '
            f'style="width:{side}px">')


def _title(name: str, detail_html: str) -> str:
    """The bold name first, as on every other card ("Kirin sweep NAME")."""
    return title_row(name, detail_html)


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
            ("cost", usd(record["cost"]) if record.get("cost") is not None else None),
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
            f'<tr><td style="{_TD_FALLBACK}">{escape(label)}</td>'
            f'<td style="{_TD_FALLBACK}">{escape(value)}</td></tr>'
            for label, value in record_rows(self.record))
        shown = shown_path(self.path)
        title = (f'<span class="kirin-mono" title="{escape(shown)}" '
                 f'style="overflow-wrap:anywhere">{escape(shown)}</span>')
        # The table goes under the picture where the two do not fit side by side.
        return (card_open("kirin-record", "record", fit=True)
                + f"{_title('Kirin record', title)}"
                f'<div class="kirin-row" style="{_ROW_FALLBACK}">{_thumb(self.path, THUMB_SIDE)}'
                '<div style="flex:1 1 260px;min-width:0">'
                f'<table class="kirin-record-table" style="margin:0">{cells}</table>'
                "</div></div></div>")

    def text(self) -> str:
        rows = record_rows(self.record)
        width = max(len(label) for label, _ in rows)
        return "\n".join([f"kirin record in {shown_path(self.path)}"]
                         + [f"  {label:<{width}}  {value}" for label, value in rows])

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": self.html(), "text/plain": self.text()}


class LineageView:
    """A chain of generations, oldest first, as a row of thumbnails with short labels.

    Each generation shows the picture the next one used (``Node.shown``): the reference
    that was sent, matched by its hash, not simply the job's first image."""

    def __init__(self, nodes: Sequence[Node]) -> None:
        self.nodes = list(nodes)

    def html(self) -> str:
        # Each later generation carries its arrow, so a row that wraps (a narrow output)
        # never leaves an arrow at the end of a line; the arrow is centred on the pictures.
        arrow = (f'<div class="kirin-arrow" aria-hidden="true" '
                 f'style="height:{CHAIN_SIDE}px;display:flex;align-items:center">&rarr;</div>')
        tiles = []
        for number, node in enumerate(self.nodes):
            shown = node.shown
            label = cut(" ".join(PLACEHOLDER.sub(" ", node.prompt).split()).rstrip(" ,;:"), 44)
            # Which of several pictures a later generation used; the line is kept empty
            # otherwise, so the ids under the labels line up across the row.
            used = '<div class="kirin-lineage-used"></div>'
            if shown is not None and node.used and len(node.paths) > 1:
                used = (f'<div class="kirin-lineage-used" title="used as a reference: '
                        f'{escape(shown_path(shown))}">used: {escape(shown.name)} of '
                        f"{len(node.paths)}</div>")
            tiles.append(
                '<div class="kirin-lineage-step" style="display:flex;gap:6px">'
                f'{arrow if number else ""}'
                f'<div class="kirin-lineage-node" data-file="{escape(shown.name if shown else "")}"'
                f' style="width:{CHAIN_SIDE}px">'
                f"{_thumb(shown, CHAIN_SIDE)}"
                f'<div class="kirin-lineage-label" title="{escape(node.prompt)}">'
                f"{escape(label)}</div>{used}"
                f'<div class="kirin-mono kirin-muted" style="margin-top:2px" '
                f'title="{escape(node.task_id)}">{escape(short_id(node.task_id))}</div>'
                "</div></div>")
        count = len(self.nodes)
        what = (f'<span class="kirin-note">{count} generation'
                f'{"s" if count != 1 else ""}, oldest first</span>')
        return (card_open("kirin-lineage", "record", fit=True)
                + f"{_title('Kirin lineage', what)}"
                f'<div class="kirin-lineage-row" style="{_ROW_FALLBACK}">{"".join(tiles)}</div>'
                "</div>")

    def text(self) -> str:
        lines = ["lineage, oldest first:"]
        for number, node in enumerate(self.nodes, start=1):
            shown = node.shown
            lines.append(f"  {number}. {node.task_id}  {cut(' '.join(node.prompt.split()), 60)}"
                         + (f"\n     {shown_path(shown)}" if shown else ""))
        return "\n".join(lines)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": self.html(), "text/plain": self.text()}
