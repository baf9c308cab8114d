"""One label column for the whole panel, so every label starts at the same place.

A field is a label of fixed width and a body that takes the rest. The body wraps its
controls instead of squeezing them (``min-width: 0`` on what may shrink, ``flex: none`` on
buttons, which would otherwise be cut to "Uploa…"), and when the page is too narrow for
both, the body moves under its label: the label column is the same on every row either way.
"""

from __future__ import annotations

from html import escape
from typing import Any

from ..display import theme

LABEL_WIDTH = "104px"
BODY_BASIS = "240px"  # narrower than label + this, and the body goes under the label


def label_html(text: str) -> str:
    return f'<span style="color:{theme.TEXT};font-size:13px">{escape(text)}</span>'


def field(label: str, *controls: Any, css_class: str = "") -> Any:
    """A row of the grid: ``label`` in the label column, ``controls`` wrapping beside it."""
    import ipywidgets as w

    name = w.HTML(label_html(label), layout=w.Layout(
        width=LABEL_WIDTH, flex=f"0 0 {LABEL_WIDTH}"))
    name.add_class("kirin-label")
    row = w.HBox([name, body(*controls)], layout=w.Layout(
        flex_flow="row wrap", align_items="flex-start"))
    row.add_class("kirin-field")
    if css_class:
        row.add_class(css_class)
    return row


def body(*controls: Any) -> Any:
    """The controls of a field, wrapping onto more lines rather than being cut."""
    import ipywidgets as w

    return w.HBox(list(controls), layout=w.Layout(
        flex=f"1 1 {BODY_BASIS}", min_width="0", flex_flow="row wrap",
        align_items="center"))


def button_layout(**extra: str) -> Any:
    """A Layout for a button as wide as its words (a fresh one each: hiding is per Layout)."""
    import ipywidgets as w

    return w.Layout(width="auto", flex="0 0 auto", **extra)


def grow(basis: str, **extra: str) -> Any:
    """A Layout for a control that takes the room left on its line, from ``basis`` up."""
    import ipywidgets as w

    return w.Layout(flex=f"1 1 {basis}", min_width="0", width="auto", **extra)
