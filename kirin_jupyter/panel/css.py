"""The panel's one stylesheet, for what an ipywidgets ``Layout`` cannot say.

It ships in an HTML widget at the top of the panel (a ``<style>`` there applies; a script
would not run). A front end that ignores it still shows a working, plainer panel.
"""

from __future__ import annotations

from ..display import theme

# - ipywidgets gives an HTML widget a 28 px line height, so a wrapped note would be spaced
#   like a form; a compact line height, with padding that keeps one-line notes 28 px high.
# - Older runs' accordion titles in the theme's text colour on the page (ipywidgets draws
#   them muted on a grey fill, 4.4:1 in JupyterLab Light).
# - Tile buttons are compact, so the four fit on one line under a thumbnail; in a narrow
#   panel two tiles still share a row (their buttons wrap) rather than one tall column, and
#   their pictures (and skeletons, gallery.picture_width) are 120 px high, not 180.
# - The chosen 1k/2k: ipywidgets marks it only by a fill one step lighter, which Dark shows
#   as almost the same grey. Here it is the page's surface inside a ring of the accent
#   colour, in bold, its words in the theme's text colour (the others keep their fill).
# - The pending tile pulses gently, and stands still for readers who ask for less motion.
PANEL_CSS = f"""<style>
.kirin-panel .widget-html > .widget-html-content {{ line-height: 1.45; height: auto; padding: 4px 0;
  color: {theme.TEXT}; font-family: {theme.FONT}; overflow-wrap: anywhere; }}
.kirin-panel .kirin-label > .widget-html-content {{ overflow-wrap: normal; }}
.kirin-panel .kirin-placeholder > .widget-html-content {{ padding: 0; }}
.kirin-older-runs .jupyter-widget-Collapse-header {{ color: {theme.TEXT};
  background: {theme.SURFACE}; border-color: {theme.BORDER_SOFT}; }}
.kirin-older-runs .jupyter-widget-Collapse-header * {{ color: {theme.TEXT}; }}
.kirin-tile .jupyter-button {{ height: 24px; line-height: 24px; padding: 0 7px;
  font-size: 12px; }}
.kirin-jobs {{ container-type: inline-size; }}
@container (max-width: 460px) {{
  .kirin-gallery {{ grid-template-columns: repeat(auto-fill, minmax(140px, 1fr)) !important;
    --kirin-tile-side: 120px; }}
}}
.kirin-panel .kirin-resolution .jupyter-button {{ color: {theme.TEXT}; }}
.kirin-panel .kirin-resolution .jupyter-button.mod-active {{ background: {theme.SURFACE};
  box-shadow: inset 0 0 0 2px {theme.ACCENT}; font-weight: 600; }}
@keyframes kirin-pulse {{ 0%, 100% {{ opacity: 1; }} 50% {{ opacity: 0.55; }} }}
.kirin-skeleton {{ animation: kirin-pulse 1.6s ease-in-out infinite; }}
@media (prefers-reduced-motion: reduce) {{ .kirin-skeleton {{ animation: none; }} }}
</style>"""


def skeleton(width: str, ratio: float) -> str:
    """A themed grey box of the picture's size where it will be (no text: it would pulse
    with the box): ``width`` as CSS, the height from ``ratio`` (width over height)."""
    return (f'<div class="kirin-skeleton" role="img" aria-label="image on its way" '
            f'style="width:{width};aspect-ratio:{ratio:.4f};border-radius:4px;'
            f"background:{theme.SURFACE_ALT};border:1px solid {theme.BORDER_SOFT};"
            f'box-sizing:border-box"></div>')
