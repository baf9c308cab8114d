"""The "copy as code" box: the cell as text, a button that really copies it, and the way to
insert it as a cell.

The button is plain HTML in an ipywidgets HTML widget: front ends run an inline ``onclick``
there (never a ``<script>``), and a click is the user gesture the clipboard asks for.
``navigator.clipboard`` needs a secure context (https, or localhost / 127.0.0.1); elsewhere
the text is selected and copied the old way, or left selected for Ctrl+C. A button click
cannot add a cell (only a running cell may, through IPython's ``set_next_input``), so the box
names the magic that does: ``%kirin code``.
"""

from __future__ import annotations

from html import escape

from ..display import theme
from .style import note

COPIED = "Copied to the clipboard."
SELECTED = "Selected: press Ctrl+C (⌘C) to copy."

# `this` is the button; its data-code attribute holds the cell exactly (newlines included).
_ON_CLICK = (
    "var b=this,box=b.closest('.kirin-code'),state=box.querySelector('.kirin-copy-state');"
    "function say(m){state.textContent=m;}"
    "function pick(){var r=document.createRange();r.selectNodeContents(box.querySelector('pre'));"
    "var g=window.getSelection();g.removeAllRanges();g.addRange(r);"
    "try{return document.execCommand('copy');}catch(e){return false;}}"
    "function old(){say(pick()?" + repr(COPIED) + ":" + repr(SELECTED) + ");}"
    "if(navigator.clipboard&&window.isSecureContext){"
    "navigator.clipboard.writeText(b.getAttribute('data-code'))"
    ".then(function(){say(" + repr(COPIED) + ");},old);}else{old();}"
)


def code_html(cell: str) -> str:
    """The cell in a ``<pre>`` with a working Copy button; everything escaped."""
    button = (f'<button class="jupyter-button widget-button kirin-copy" type="button" '
              f'style="width:auto;flex:none" data-code="{escape(cell, quote=True)}" '
              f'onclick="{escape(_ON_CLICK, quote=True)}">Copy to clipboard</button>')
    state = (f'<span class="kirin-copy-state" role="status" '
             f'style="color:{theme.MUTED};font-size:12px"></span>')
    pre = (f'<pre style="margin:4px 0;padding:6px 8px;border:1px solid {theme.BORDER};'
           f"border-radius:4px;font-family:{theme.MONO};font-size:12px;line-height:1.4;"
           f"white-space:pre-wrap;overflow-wrap:anywhere;max-height:240px;overflow:auto;"
           f'color:{theme.TEXT};background:transparent">{escape(cell)}</pre>')
    how = note("It makes the same request (with a new external_task_id). To put it in a new "
               "cell instead, run %kirin code in a cell: the code appears in a cell below it.")
    return (f'<div class="kirin-code"><div style="display:flex;flex-wrap:wrap;'
            f'align-items:center;gap:8px">{button}{state}</div>{pre}{how}</div>')
