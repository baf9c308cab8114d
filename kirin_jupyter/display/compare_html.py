"""The compare views as static HTML: a before/after slider for two pictures, a strip for more.

The slider: the "before" picture sits in a box laid over the "after" picture, clipped to
the box's width. The before picture is as tall as the box and keeps its shape, so it is
exactly as wide as the after picture whatever the box's width, and the two stay lined up
at any page width.

Live (a trusted output: the cell just ran, or the notebook is the user's own), a small
script makes the dividing line itself the handle: drag the line (or click anywhere on the
pictures), or focus it (Tab) and press the arrow keys, Home or End. It is a slider to
assistive technology (role, value). Where scripts do not run (an untrusted notebook, whose
HTML JupyterLab sanitises; nbconvert without scripts), the CSS-only fallback remains: the
box has ``resize: horizontal``, and the browser's own resize handle at the foot of the
line, in a track under the pictures, drags it. No kernel is needed either way.

Both views are one-row tables, restyled into the slider or a wrapping strip. Where styles
are stripped (GitHub's notebook viewer) a table is still a table: the pictures stand side
by side, each under its label. JupyterLab's sanitiser keeps ``resize``, ``position`` and
plain lengths but drops ``var()`` and ``<style>``: what the fallback needs is inline, in
plain values; the theme's colours are in the style block (``css.py``, part "compare").
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from . import css, theme
from .static import NO_MATH

TRACK_PX = 18  # the strip under the pictures where the fallback's handle is
DIVIDER_PX = 3
STRIP_MAX = 1080  # px: as wide as the cards get
STRIP_MIN = 150  # px: a strip's narrowest picture; fewer per row below that
# Undo JupyterLab's output-table rules (.jp-RenderedHTMLCommon table/tr/td/th).
_RESET = "border:none;background:transparent;max-width:none;vertical-align:top;"
_ROOT = "font-size:12px;line-height:1.4;margin:4px 0;box-sizing:border-box;min-width:0"
_TABLE = (f"display:block;{_RESET}border-collapse:collapse;margin:0;width:100%;"
          "table-layout:auto")
_GREY = theme.PLAIN_BORDER

# The live divider: what the script adds to a slider (see the module's docstring). It finds
# its slider as the element it sits in, so several comparisons on a page never mix.
SCRIPT = """<script>(function () {
  var me = document.currentScript, root = me && me.closest('.kirin-compare-slider');
  if (!root || root.getAttribute('data-live')) return;
  root.setAttribute('data-live', '1');
  var stage = root.querySelector('.kirin-compare-stage');
  var before = root.querySelector('.kirin-compare-before');
  var hint = root.querySelector('.kirin-compare-hint');
  var line = document.createElement('div'), knob = document.createElement('div');
  line.className = 'kirin-divider';
  knob.className = 'kirin-knob';
  line.tabIndex = 0;
  line.setAttribute('role', 'slider');
  line.setAttribute('aria-label', 'divider between the two pictures');
  line.setAttribute('aria-valuemin', '0');
  line.setAttribute('aria-valuemax', '100');
  line.appendChild(knob);
  stage.appendChild(line);
  root.classList.add('kirin-live-compare');
  var share = 50, dragging = false;
  function set(value) {
    share = Math.max(0, Math.min(100, value));
    before.style.width = share + '%';
    line.style.left = share + '%';
    line.setAttribute('aria-valuenow', String(Math.round(share)));
    line.setAttribute('aria-valuetext', Math.round(share) + '% of the before picture');
  }
  function follow(event) {
    var box = stage.getBoundingClientRect();
    if (box.width > 0) set((event.clientX - box.left) / box.width * 100);
  }
  stage.addEventListener('pointerdown', function (event) {
    if (event.button !== 0) return;
    event.preventDefault();
    dragging = true;
    stage.setPointerCapture(event.pointerId);
    follow(event);
    line.focus({preventScroll: true});
  });
  stage.addEventListener('pointermove', function (event) { if (dragging) follow(event); });
  function stop() { dragging = false; }
  stage.addEventListener('pointerup', stop);
  stage.addEventListener('pointercancel', stop);
  line.addEventListener('keydown', function (event) {
    var step = event.shiftKey ? 10 : 2, key = event.key;
    if (key === 'ArrowLeft' || key === 'ArrowDown') set(share - step);
    else if (key === 'ArrowRight' || key === 'ArrowUp') set(share + step);
    else if (key === 'PageDown') set(share - 10);
    else if (key === 'PageUp') set(share + 10);
    else if (key === 'Home') set(0);
    else if (key === 'End') set(100);
    else return;
    event.preventDefault();
    event.stopPropagation();
  });
  if (hint) hint.textContent = 'drag the line (or press Tab, then \u2190 \u2192) to show ' +
    'more of either picture';
  set(50);
})();</script>"""


@dataclass(frozen=True)
class Shown:
    """One picture as the comparison embeds it: a small JPEG and what to call it."""

    label: str  # short, one line
    title: str  # the whole story (full prompt, task id, path), for a tooltip
    jpeg: bytes
    width: int
    height: int
    source_size: tuple[int, int]  # the original's pixels, for the text form


def _src(shown: Shown) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(shown.jpeg).decode("ascii")


def _label(text: str, title: str) -> str:
    return (f'<span class="kirin-compare-label" title="{escape(title)}">'
            f"{escape(text)}</span>")


def _which(word: str) -> str:
    return f'<b class="kirin-which">{word}</b>'


def slider_html(before: Shown, after: Shown, width: int) -> str:
    """Two pictures of one shape: drag the line to show more of one or the other."""
    shown_width = min(width, before.width)
    half = max(1, shown_width // 2)  # each picture's width where styles are stripped
    head = (f'<th style="display:block;{_RESET}padding:0 0 4px;text-align:{{align}};'
            f'font-weight:normal;min-width:0;flex:1 1 0;overflow-wrap:anywhere">{{body}}</th>')
    # Each side: "◀ BEFORE" / "AFTER ▶" on a line of its own over its label.
    labels = (
        head.format(align="left", body=f"{_which('◀ before')} "
                    + _label(before.label, before.title))
        + head.format(align="right", body=f"{_which('after ▶')} "
                      + _label(after.label, after.title))
    )
    before_box = (
        f"display:block;position:absolute;top:0;bottom:0;left:0;z-index:1;width:50%;"
        f"min-width:24px;max-width:100%;resize:horizontal;overflow:hidden;"
        f"box-sizing:border-box;padding:0 0 {TRACK_PX}px;margin:0;border:none;"
        f"background:{theme.TRACK};border-right:{DIVIDER_PX}px solid "
        f"{theme.plain(theme.ACCENT)}"
    )
    return (
        f'<div class="kirin kirin-compare kirin-compare-slider {NO_MATH}" '
        f'style="{_ROOT};max-width:{shown_width}px">{css.style("compare")}'
        f'<table class="kirin-compare-table" style="{_TABLE}">'
        f'<thead style="display:block;{_RESET}"><tr class="kirin-compare-labels" '
        f'style="display:flex;gap:12px;align-items:flex-end;{_RESET}">{labels}</tr></thead>'
        f'<tbody style="display:block;{_RESET}">'
        f'<tr class="kirin-compare-stage" style="display:block;position:relative;'
        f'padding:0 0 {TRACK_PX}px;line-height:0;{_RESET}border-bottom:1px solid {_GREY}">'
        f'<td class="kirin-compare-before" style="{before_box}">'
        f'<img src="{_src(before)}" alt="before: {escape(before.label)}" width="{half}" '
        'style="display:block;height:100%;width:auto;max-width:none;margin:0"></td>'
        f'<td class="kirin-compare-after" style="display:block;padding:0;margin:0;{_RESET}">'
        f'<img src="{_src(after)}" alt="after: {escape(after.label)}" width="{half}" '
        'style="display:block;width:100%;height:auto;max-width:100%;margin:0"></td>'
        "</tr></tbody></table>"
        '<div class="kirin-compare-hint">drag the handle ◢ at the foot of the line to '
        f"show more of either picture</div>{SCRIPT}</div>"
    )


def strip_html(shown: Sequence[Shown], *, note: str = "") -> str:
    """Three pictures or more (or two of different shapes), side by side with labels, in
    equal columns that wrap onto more rows in a narrow window."""
    side = max(s.width for s in shown)
    cells = "".join(
        f'<td class="kirin-compare-item" style="display:block;min-width:0;'
        f'padding:0;margin:0;text-align:left;{_RESET}">'
        f'<img src="{_src(s)}" alt="{escape(s.label)}" width="{min(s.width, 200)}" '
        'style="display:block;width:100%;height:auto;max-width:100%;margin:0">'
        f'<div style="margin-top:3px;overflow-wrap:anywhere">{_label(s.label, s.title)}'
        "</div></td>"
        for s in shown
    )
    note_html = f'<div class="kirin-compare-hint">{escape(note)}</div>' if note else ""
    most = min(STRIP_MAX, len(shown) * side + (len(shown) - 1) * 8)
    return (
        f'<div class="kirin kirin-compare kirin-compare-strip {NO_MATH}" '
        f'style="{_ROOT};max-width:{most}px">{css.style("compare")}'
        f'<table class="kirin-compare-table" style="{_TABLE}">'
        f'<tbody style="display:block;{_RESET}"><tr class="kirin-strip" style="display:grid;'
        f'grid-template-columns:repeat(auto-fit,minmax({STRIP_MIN}px,1fr));gap:8px;'
        f'{_RESET}">{cells}</tr></tbody></table>{note_html}</div>'
    )
