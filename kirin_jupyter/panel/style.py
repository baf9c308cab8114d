"""Small shared bits of look: notes, state marks, problem chips, showing and hiding widgets.

Every colour comes from ``display.theme``. Following its rules, words are always in the
theme's text colours; "ok", "problem" and "done" are told by a coloured dot or border.
"""

from __future__ import annotations

from html import escape
from typing import Any

from ..display import theme

OK = theme.SUCCESS
BAD = theme.ERROR


def note(text: str, mark: str | None = None) -> str:
    """A line of small muted text, after a dot of ``mark`` (a theme colour) if given.

    The text is escaped (it may hold file names or prompts).
    """
    dot = theme.dot(mark) if mark else ""
    colour = theme.TEXT if mark == BAD else theme.MUTED
    return f'<span style="color:{colour};font-size:12px">{dot}{escape(text)}</span>'


def ok_badge(text: str = "ok") -> str:
    return theme.pill(text, OK)


def problem_badge(text: str) -> str:
    """A rule that is broken, word for word: theme text beside a red bar, wrapping freely."""
    return (f'<span class="kirin-problem" style="display:inline-block;padding:0 6px;'
            f"margin:1px 4px 1px 0;border:1px solid {BAD};border-left-width:4px;"
            f"border-radius:4px;font-size:12px;line-height:18px;color:{theme.TEXT};"
            f'white-space:normal;overflow-wrap:anywhere">{escape(text)}</span>')


def show(widget: Any, visible: bool, display: str = "flex") -> None:
    """Hide with ``display: none`` so hidden controls take no room."""
    widget.layout.display = display if visible else "none"


def counter_html(length: int, limit: int) -> str:
    return note(f"{length} / {limit} characters", BAD if length > limit else None)
