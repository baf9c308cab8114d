"""Small shared bits of look: badges, notes, showing and hiding widgets."""

from __future__ import annotations

from html import escape
from typing import Any

from ..display.static import badge

OK = "#1a7f37"
BAD = "#cf222e"
GREY = "#57606a"
WARN = "#9a6700"


def note(text: str, colour: str = GREY) -> str:
    """A line of small text; the text is escaped (it may hold file names or prompts)."""
    return f'<span style="color:{colour};font-size:12px">{escape(text)}</span>'


def ok_badge(text: str = "ok") -> str:
    return badge(text, OK)


def problem_badge(text: str) -> str:
    """A rule an image breaks, word for word, wrapping inside narrow rows."""
    return (f'<span style="display:inline-block;padding:0 6px;border-radius:8px;'
            f'font-size:11px;margin:1px 0;background:{BAD};color:white;white-space:normal">'
            f"{escape(text)}</span>")


def show(widget: Any, visible: bool, display: str = "flex") -> None:
    """Hide with ``display: none`` so hidden controls take no room."""
    widget.layout.display = display if visible else "none"


def counter_html(length: int, limit: int) -> str:
    colour = BAD if length > limit else GREY
    return note(f"{length} / {limit} characters", colour)
