"""The panel's one stylesheet, for what an ipywidgets ``Layout`` cannot say.

It ships in an HTML widget at the top of the panel (a ``<style>`` there applies; a script
would not run). A front end that ignores it still shows a working, plainer panel.
"""

from __future__ import annotations

from ..display import theme

# - ipywidgets gives an HTML widget a 28 px line height, so a wrapped note would be spaced
#   like a form; a compact line height, with padding that keeps one-line notes 28 px high.
# - The pending tile pulses gently, and stands still for readers who ask for less motion.
PANEL_CSS = f"""<style>
.kirin-panel .widget-html > .widget-html-content {{ line-height: 1.45; height: auto; padding: 4px 0;
  color: {theme.TEXT}; font-family: {theme.FONT}; overflow-wrap: anywhere; }}
.kirin-panel .kirin-label > .widget-html-content {{ overflow-wrap: normal; }}
@keyframes kirin-pulse {{ 0%, 100% {{ opacity: 1; }} 50% {{ opacity: 0.55; }} }}
.kirin-skeleton {{ animation: kirin-pulse 1.6s ease-in-out infinite; }}
@media (prefers-reduced-motion: reduce) {{ .kirin-skeleton {{ animation: none; }} }}
</style>"""


def skeleton(height: str) -> str:
    """A themed grey box where an image will be (no text: it would pulse with the box)."""
    return (f'<div class="kirin-skeleton" role="img" aria-label="image on its way" '
            f"style=\"height:{height};border-radius:4px;background:{theme.SURFACE_ALT};"
            f'border:1px solid {theme.BORDER_SOFT};box-sizing:border-box"></div>')
