"""``%kirin models``: the models and what each accepts, as a themed table or as text.

A bare ``IPython.display.HTML`` prints ``<IPython.core.display.HTML object>`` in a
terminal; this object carries both forms, so every front end shows a real table.
"""

from __future__ import annotations

import textwrap
from typing import Any

from ..model import spec
from .tables import Cell, html_table, mono, plain, terminal_width, text_table

NOTE = "pick one with -m / --model (its name or alias)"
HEADERS = ("model", "alias", "aspect ratios", "max images", "what it does")


def _rows() -> list[tuple[str, str, str, str, str]]:
    return [
        (model.name, model.alias,
         f"{' '.join(model.aspect_ratios)} (default {model.default_aspect_ratio})",
         str(model.max_images), " ".join(model.description.split()))
        for model in spec.MODELS.values()
    ]


def models_html() -> str:
    """Names in the code font, the description allowed to wrap (it is the long column)."""
    rows = []
    for name, alias, ratios, most, what in _rows():
        rows.append([
            Cell(mono(name), name), Cell(mono(alias), alias), plain(ratios), plain(most),
            Cell(f'<div class="kirin-wrap" style="text-align:left;min-width:16em">'
                 f"{plain(what).html}</div>", what),
        ])
    return html_table(HEADERS, rows, note=NOTE,
                      css_class="kirin-models")


def models_text(width: int | None = None) -> str:
    """The short columns as a table, then each model's description wrapped at words."""
    width = min(width or terminal_width(), 100)
    table = text_table(("model", "alias", "max images", "aspect ratios"),
                       [[name, alias, most, ratios] for name, alias, ratios, most, _ in _rows()],
                       width=width, last="wrap")
    notes = [textwrap.fill(f"{alias:<5} {what}", width, subsequent_indent=" " * 6,
                           break_long_words=False, break_on_hyphens=False)
             for _, alias, _, _, what in _rows()]
    return "\n".join([table, "", *notes, "", NOTE])


class ModelsView:
    """What ``%kirin models`` displays."""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": models_html(), "text/plain": models_text()}
