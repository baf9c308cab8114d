"""The exported contact sheet: one HTML page, a card per image with what made it.

A page of its own, opened by a colleague without Jupyter: the theme's variables are not
defined there, so ``theme``'s light fallbacks apply. Every string from a user or a server
(prompts, options, ids, paths) is escaped; the page has no script.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from html import escape
from typing import TYPE_CHECKING

from ..base.money import usd
from ..display import theme
from ..display.tables import short_id

if TYPE_CHECKING:
    from .items import Item

TILE = 240  # px, each card's picture box


def sheet_html(items: Sequence[Item], src: Callable[[Item], str], *, title: str) -> str:
    """The page; ``src(item)`` says where each picture is (a data URI, or a file in a zip)."""
    jobs = len({item.external_id for item in items})
    missing = sum(item.missing for item in items)
    summary = (f"{len(items)} image{'s' if len(items) != 1 else ''} of {jobs} "
               f"job{'s' if jobs != 1 else ''}" + (f", {missing} missing" if missing else "")
               + f" · exported {time.strftime('%Y-%m-%d %H:%M')}")
    cards = "".join(_card(item, src) for item in items)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title></head>"
        f'<body style="margin:0;padding:16px;background:{theme.SURFACE};color:{theme.TEXT};'
        f'font-family:{theme.FONT};font-size:13px;line-height:1.45">'
        f'<h1 style="font-size:18px;margin:0 0 2px">{escape(title)}</h1>'
        f'<p style="margin:0 0 12px;color:{theme.MUTED}">{escape(summary)}</p>'
        '<div class="kirin-sheet" style="display:grid;grid-template-columns:'
        f'repeat(auto-fill,minmax({TILE}px,1fr));gap:12px">{cards}</div></body></html>\n'
    )


def _card(item: Item, src: Callable[[Item], str]) -> str:
    if item.missing:
        picture = (f'<div style="height:{TILE}px;display:flex;align-items:center;'
                   f'justify-content:center;{theme.border(theme.BORDER_SOFT)}'
                   f'border-radius:4px;color:{theme.MUTED}">file missing</div>')
    else:
        picture = (f'<a href="{escape(src(item))}"><img src="{escape(src(item))}" '
                   f'alt="{escape(item.prompt[:200])}" loading="lazy" style="display:block;'
                   f"width:100%;height:{TILE}px;object-fit:contain;border-radius:4px;"
                   f'background:{theme.TRACK}"></a>')
    options = json.dumps(item.options, ensure_ascii=False, sort_keys=True, default=str)
    facts = " · ".join(str(part) for part in (
        item.model, item.options.get("resolution"), item.options.get("aspect_ratio"),
        usd(item.cost) if item.cost is not None else None) if part)
    negative = (f'<div style="color:{theme.MUTED}">not: {escape(item.negative_prompt)}</div>'
                if item.negative_prompt else "")
    finished = (time.strftime("%Y-%m-%d %H:%M", time.localtime(item.finished_at))
                if item.finished_at else "")
    return (
        f'<figure class="kirin-sheet-card" style="margin:0;padding:8px;'
        f'{theme.border()}border-radius:8px;min-width:0">{picture}'
        '<figcaption style="margin-top:6px;overflow-wrap:anywhere">'
        f"<div>{escape(item.prompt)}</div>{negative}"
        f'<div style="color:{theme.MUTED};font-size:12px">{escape(facts)}</div>'
        f'<div style="color:{theme.MUTED};font-size:12px" title="task id {escape(item.task_id)}'
        f' · external id {escape(item.external_id)}">task {escape(short_id(item.task_id))} '
        f"#{item.index + 1} · {escape(finished)}</div>"
        f'<details style="font-size:12px;color:{theme.MUTED}"><summary>all parameters'
        f'</summary><code style="font-family:{theme.MONO};overflow-wrap:anywhere">'
        f"{escape(options)}</code><div>task id {escape(item.task_id)}</div>"
        f"<div>external id {escape(item.external_id)}</div>"
        f"<div>file {escape(item.name or str(item.source))}</div></details>"
        "</figcaption></figure>"
    )
