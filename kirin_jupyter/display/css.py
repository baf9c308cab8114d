"""One ``<style>`` block per output, and classes: how every view is styled.

Each output (a card, the history, a grid, a comparison) starts with one ``<style>`` holding
the rules of the parts it uses (``style("card", "gallery")``), and its elements carry
classes. Inline styles repeated on every row made a 20-row ``%kirin history`` 99 KB; the
rules are now said once per output.

Colours come from the front end's theme variables (``theme.py``), set once as short
custom properties on the ``.kirin`` root (``--kt`` text, ``--km`` muted, ...).

Where the ``<style>`` is dropped, the inline fallback shows. JupyterLab's sanitiser, for an
untrusted notebook (one opened from someone else), keeps ``class`` and plain inline styles
(lengths, flex, grid, a plain grey border) but removes ``<style>`` elements and every
``var()``. So an element whose layout matters keeps a short inline style of plain values
(``fallback``), and a rule here that must beat one of them says ``!important``. Untrusted,
a view reads as plain text in the page's own colours, laid out as in the trusted view.

Selectors are two classes deep where JupyterLab's own output rules (``.jp-RenderedHTMLCommon
td``, ``img``, ``a``, ``ul``) would otherwise win.
"""

from __future__ import annotations

from html import escape

from . import theme

# The root of every output: the theme's colours as short custom properties.
_BASE = (
    f".kirin{{--kt:{theme.TEXT};--km:{theme.MUTED};--kb:{theme.BORDER};"
    f"--ks:{theme.BORDER_SOFT};--kp:{theme.PAGE};--ka:{theme.ACCENT};--kok:{theme.SUCCESS};"
    f"--kerr:{theme.ERROR};--kw:{theme.WARN};--kn:{theme.NEUTRAL};--ktrack:{theme.TRACK};"
    f"font-family:{theme.FONT};color:var(--kt);text-align:left}}"
    ".kirin .kirin-note{color:var(--km);font-size:12px}"
    ".kirin .kirin-muted{color:var(--km)}"
    f".kirin .kirin-mono{{font-family:{theme.MONO};font-size:11px}}"
    ".kirin .kirin-pill{display:inline-flex;align-items:center;padding:0 7px;"
    "border:1px solid var(--kb)!important;border-radius:10px;font-size:11px;line-height:18px;"
    "color:var(--kt);white-space:nowrap}"
    ".kirin .kirin-dot{display:inline-block;width:8px;height:8px;border-radius:50%;"
    "margin-right:4px;vertical-align:middle;flex:none;background:var(--kn)}"
    ".kirin .k-ok{background:var(--kok)}.kirin .k-err{background:var(--kerr)}"
    ".kirin .k-warn{background:var(--kw)}.kirin .k-accent{background:var(--ka)}"
)

PARTS: dict[str, str] = {
    # A model's document from the gateway (display/model_doc.py): its Markdown, drawn.
    "doc": (
        ".kirin-doc .kirin-doc-gaps{margin:4px 0 8px;display:flex;flex-direction:column;"
        "gap:4px}"
        ".kirin-doc .kirin-doc-body{border-top:1px solid var(--ks);padding-top:6px;"
        "overflow-wrap:anywhere}"
        ".kirin-doc .kirin-doc-body p{margin:4px 0}"
        ".kirin-doc .kirin-doc-h{font-weight:600;margin:10px 0 4px}"
        ".kirin-doc .kirin-doc-h1{font-size:16px}.kirin-doc .kirin-doc-h2{font-size:15px}"
        ".kirin-doc .kirin-doc-h3,.kirin-doc .kirin-doc-h4{font-size:13px}"
        ".kirin-doc .kirin-doc-li{margin:2px 0}"
        ".kirin-doc .kirin-doc-code{font-size:11px;margin:4px 0;padding:6px 8px;"
        "border:1px solid var(--ks)!important;border-radius:4px;white-space:pre-wrap}"
        ".kirin-doc .kirin-doc-rule{border:0;border-top:1px solid var(--ks);margin:8px 0}"
        ".kirin-doc table.kirin-doc-table{border-collapse:collapse;margin:4px 0;"
        "table-layout:auto}"
        ".kirin-doc table.kirin-doc-table td,.kirin-doc table.kirin-doc-table th{"
        "text-align:left;vertical-align:top;padding:2px 8px;"
        "border-bottom:1px solid var(--ks)!important}"
    ),
    # The card's frame, header, prompt, chips, footer and progress bar.
    "card": (
        ".kirin-card{box-sizing:border-box;border:1px solid var(--kb)!important;"
        "border-radius:8px;padding:8px 12px;margin:4px 0;font-size:13px;line-height:1.45;"
        "max-width:1080px;min-width:0}"
        # Cards whose content does not fill a row (a grid, a record, a lineage) are as
        # wide as it, never wider than the output area.
        ".kirin-card.kirin-fit{width:fit-content;max-width:min(1080px,100%)}"
        ".kirin .kirin-head{display:flex;flex-wrap:wrap;align-items:center;gap:4px 6px}"
        ".kirin .kirin-head>b{margin-right:2px}"
        f".kirin .kirin-id{{font-family:{theme.MONO};font-size:11px;color:var(--km);"
        "margin-left:auto;white-space:nowrap}"
        ".kirin .kirin-sub{color:var(--km);font-size:12px;margin:2px 0;overflow-wrap:anywhere}"
        ".kirin .kirin-prompt{margin:4px 0 2px;overflow-wrap:anywhere}"
        ".kirin .kirin-chips{display:flex;flex-wrap:wrap;gap:4px;margin:2px 0 6px}"
        ".kirin .kirin-foot{color:var(--km);font-size:12px;margin-top:4px;"
        "overflow-wrap:anywhere}"
        ".kirin .kirin-meta{font-size:11px;color:var(--km)}"
    ),
    # A running card's bar; a batch's or a sweep's counts; a failure's message.
    "bar": (
        ".kirin .kirin-bar{height:6px;border-radius:3px;background:var(--ks)!important;"
        "overflow:hidden;margin:6px 0 4px}"
        ".kirin .kirin-bar-fill{height:100%;background:var(--ka)!important;border-radius:3px}"
        ".kirin .kirin-counts{display:flex;flex-wrap:wrap;gap:2px 14px;margin:4px 0 2px}"
        ".kirin .kirin-counts>span{white-space:nowrap}"
    ),
    "message": (
        ".kirin .kirin-message{border-left:3px solid var(--kerr)!important;padding:2px 8px;"
        "margin:6px 0 2px;overflow-wrap:anywhere}"
    ),
    # A card's results: tiles on a grid whose rows fill.
    "gallery": (
        ".kirin .kirin-gallery{display:grid;gap:8px;margin:6px 0 2px;font-size:11px;"
        "color:var(--km)}"
        ".kirin .kirin-tile{min-width:0;overflow-wrap:anywhere}"
        ".kirin .kirin-tile img{display:block;width:100%;height:auto;border-radius:4px}"
        ".kirin .kirin-tile video{display:block;width:100%}"
    ),
    # %kirin history: one row a job. Wide, a grid whose columns line up under a header;
    # narrow (under 640 px of output), the pictures and the prompt, then the state, model,
    # count, cost, date and id wrapped under them: all in view, nothing to scroll sideways.
    "history": (
        ".kirin-history{container-type:inline-size;font-size:12px;line-height:1.35}"
        ".kirin .kh-rows{display:grid;grid-template-columns:auto minmax(8em,26em)"
        " repeat(6,auto);justify-content:start;column-gap:10px}"
        ".kirin .kh-row{display:grid!important;grid-column:1/-1;grid-template-columns:subgrid;"
        "align-items:center;padding:3px 0!important;border-bottom:1px solid var(--ks)!important}"
        ".kirin .kh-row>*{white-space:nowrap;min-width:0}"
        ".kirin .kh-head{color:var(--km);font-weight:600;font-size:11px;"
        "border-bottom-color:var(--kb)!important}"
        ".kirin .kh-prompt{overflow:hidden;text-overflow:ellipsis}"
        ".kirin .kh-thumbs{align-items:center}"
        ".kirin .kh-thumbs img{width:48px;height:48px;max-width:none;object-fit:cover;"
        "display:block;border-radius:3px;border:1px solid var(--ks)}"
        ".kirin .kh-meta{display:contents!important}"
        ".kirin .kh-unit{display:none}"
        ".kirin .kh-more{color:var(--km);font-size:11px}"
        "@container (max-width:640px){"
        ".kirin .kh-rows{display:block}"
        ".kirin .kh-row{display:flex!important;flex-wrap:wrap;gap:2px 10px;"
        "padding:5px 0!important}"
        ".kirin .kh-head{display:none!important}"
        ".kirin .kh-prompt{flex:1 1 12em;white-space:normal;display:-webkit-box;"
        "-webkit-box-orient:vertical;-webkit-line-clamp:2}"
        ".kirin .kh-meta{flex:1 1 100%;display:flex!important;flex-wrap:wrap;gap:2px 10px;"
        "align-items:center}"
        ".kirin .kh-unit{display:inline}}"
    ),
    # The listings' tables (%kirin models, a sweep's plan): left-aligned, one line a row.
    "table": (
        ".kirin-table{font-size:12px;max-width:100%;overflow-x:auto;margin:2px 0}"
        ".kirin.kirin-table table{border-collapse:collapse;border:none;table-layout:auto;"
        "width:auto;margin:0;color:var(--kt);font-size:12px;line-height:1.35}"
        ".kirin.kirin-table tr{background:transparent!important}"
        ".kirin.kirin-table td,.kirin.kirin-table th{text-align:left;white-space:nowrap;"
        "padding:3px 10px 3px 0;border:none;border-bottom:1px solid var(--ks);max-width:none;"
        "color:var(--kt);vertical-align:middle}"
        ".kirin.kirin-table th{vertical-align:bottom;color:var(--km);font-weight:600;"
        "font-size:11px;border-bottom-color:var(--kb)}"
        ".kirin.kirin-table .kirin-wrap{white-space:normal;min-width:16em;max-width:34em}"
        ".kirin .kirin-table-note{color:var(--km);font-size:11px;margin-top:4px}"
    ),
    # A sweep: a grid labelled by the swept values; its pictures scale with the columns.
    "sweep": (
        ".kirin .kirin-sweep-box{max-width:100%;overflow-x:auto;margin:6px 0 2px}"
        ".kirin .kirin-sweep-grid{display:grid;gap:0!important;font-size:12px;line-height:1.35}"
        ".kirin .kirin-sweep-grid>*{padding:6px;min-width:0}"
        ".kirin .kirin-sweep-col{font-weight:600;white-space:nowrap;overflow:hidden;"
        "text-overflow:ellipsis;align-self:end;padding-bottom:4px;"
        "border-bottom:1px solid var(--kb)}"
        ".kirin .kirin-sweep-grid>.kirin-sweep-row{font-weight:600;position:sticky;left:0;"
        "z-index:1;background:var(--kp);padding-left:0;overflow-wrap:break-word;"
        "min-width:min-content;border-bottom:1px solid var(--ks)}"
        ".kirin .kirin-sweep-corner{position:sticky;left:0;z-index:1;background:var(--kp);"
        "border-bottom:1px solid var(--kb)}"
        ".kirin .kirin-sweep-cell{border-bottom:1px solid var(--ks)}"
        ".kirin .kirin-sweep-thumbs{display:grid;gap:4px}"
        ".kirin .kirin-sweep-thumbs img{display:block;width:100%;height:auto;border-radius:3px}"
        ".kirin .kirin-sweep-cell .kirin-message{margin:0;padding:1px 6px}"
    ),
    # A batch: its failures, and its gallery of one small tile per item with its prompt.
    "batch": (
        ".kirin .kirin-failures{margin:6px 0 2px;list-style:none;padding:2px 8px 2px 10px;"
        "border-left:3px solid var(--kerr)!important;overflow-wrap:anywhere}"
        ".kirin .kirin-failures li{margin:0}"
        ".kirin .kirin-batch-gallery{display:grid;gap:6px;margin:8px 0 2px}"
        ".kirin .kirin-batch-gallery .kirin-tile{display:block;min-width:0;color:var(--km);"
        "text-decoration:none}"
        ".kirin .kirin-batch-gallery .kirin-tile-link{display:block;color:inherit;"
        "text-decoration:none}"
        ".kirin .kirin-batch-gallery img{display:block;width:100%;aspect-ratio:1;"
        "object-fit:cover;border-radius:3px}"
        ".kirin .kirin-batch-gallery .kirin-cap{display:-webkit-box;-webkit-box-orient:vertical;"
        "-webkit-line-clamp:2;overflow:hidden;font-size:11px;line-height:14px;"
        "margin-top:2px;color:var(--km);overflow-wrap:anywhere}"
        ".kirin .kirin-cap b{color:var(--kt);font-weight:600}"
    ),
    # %kirin show (a file's record) and %kirin lineage (its chain of generations).
    "record": (
        ".kirin .kirin-row{display:flex;flex-wrap:wrap;gap:8px 12px;align-items:flex-start;"
        "margin-top:6px}"
        ".kirin .kirin-thumb{box-sizing:border-box;flex:none;border-radius:4px;"
        "border:1px solid var(--ks);object-fit:cover;max-width:none;display:block}"
        ".kirin .kirin-record-table{border-collapse:collapse;border:none;margin:0;"
        "table-layout:auto;width:auto;font-size:12px;line-height:1.35}"
        ".kirin .kirin-record-table tr{background:transparent!important}"
        ".kirin .kirin-record-table td{border:none;text-align:left;vertical-align:top;"
        "max-width:none;padding:1px 0;white-space:normal;overflow-wrap:anywhere;"
        "color:var(--kt)}"
        ".kirin .kirin-record-table td:first-child{padding-right:12px;white-space:nowrap;"
        "color:var(--km)}"
        ".kirin .kirin-lineage-row{display:flex;flex-wrap:wrap;gap:10px 6px;"
        "align-items:flex-start;margin-top:6px}"
        ".kirin .kirin-lineage-step{display:flex;gap:6px;flex:none}"
        ".kirin .kirin-arrow{color:var(--km);font-size:18px;display:flex;align-items:center;"
        "flex:none}"
        ".kirin .kirin-lineage-label{font-size:12px;line-height:16px;min-height:48px;"
        "margin-top:4px;overflow-wrap:anywhere;display:-webkit-box;"
        "-webkit-box-orient:vertical;-webkit-line-clamp:3;overflow:hidden}"
        ".kirin .kirin-lineage-used{font-size:11px;line-height:14px;min-height:14px;"
        "color:var(--km);margin-top:2px;white-space:nowrap;overflow:hidden;"
        "text-overflow:ellipsis}"
    ),
    # compare(): a before/after slider for two pictures, a strip for more. The layout the
    # CSS-only fallback needs is inline (compare_html.py); here: the theme's colours, and
    # the live divider the script adds (a line to drag, a knob, a focus ring).
    "compare": (
        ".kirin .kirin-compare-label{color:var(--kt)}"
        ".kirin .kirin-which{display:block;color:var(--km);font-weight:600;font-size:11px;"
        "text-transform:uppercase;letter-spacing:0.04em}"
        ".kirin .kirin-compare-stage{border-bottom-color:var(--ks)!important}"
        ".kirin .kirin-compare-before{background:var(--ktrack)!important;"
        "border-right-color:var(--ka)!important}"
        ".kirin .kirin-compare-hint{color:var(--km);font-size:11px;margin-top:3px;"
        "overflow-wrap:anywhere;line-height:1.4}"
        ".kirin .kirin-divider{position:absolute;top:0;bottom:0;width:28px;margin-left:-14px;"
        "cursor:ew-resize;z-index:2;touch-action:none;outline:none}"
        ".kirin .kirin-divider::before{content:'';position:absolute;top:0;bottom:0;"
        "left:12.5px;width:3px;background:var(--ka)}"
        ".kirin .kirin-knob{position:absolute;top:50%;left:50%;width:28px;height:28px;"
        "margin:-14px 0 0 -14px;border-radius:50%;background:var(--kp);"
        "border:2px solid var(--ka);box-sizing:border-box}"
        ".kirin .kirin-knob::before,.kirin .kirin-knob::after{content:'';position:absolute;"
        "top:50%;margin-top:-4px;border:4px solid transparent}"
        ".kirin .kirin-knob::before{left:1px;border-right-color:var(--ka)}"
        ".kirin .kirin-knob::after{right:1px;border-left-color:var(--ka)}"
        ".kirin .kirin-divider:focus-visible .kirin-knob{outline:2px solid var(--ka);"
        "outline-offset:2px}"
        ".kirin-live-compare .kirin-compare-stage{cursor:ew-resize;padding-bottom:0!important;"
        "user-select:none;-webkit-user-select:none}"
        ".kirin-live-compare .kirin-compare-before{resize:none!important;min-width:0!important;"
        "padding-bottom:0!important;border-right-width:0!important}"
    ),
}


def style(*parts: str) -> str:
    """The ``<style>`` block an output needs: the root's rules and those of ``parts``."""
    return "<style>" + _BASE + "".join(PARTS[part] for part in dict.fromkeys(parts)) + \
        "</style>"


_COLOUR_CLASSES = {theme.SUCCESS: "k-ok", theme.ERROR: "k-err", theme.WARN: "k-warn",
                   theme.ACCENT: "k-accent"}


def dot(colour: str) -> str:
    """A state's coloured disc (a ``theme`` colour), drawn by the style block only: where it
    is dropped the state still reads in words beside it."""
    tone = _COLOUR_CLASSES.get(colour, "")
    return f'<span class="kirin-dot {tone}" aria-hidden="true"></span>'


# Untrusted, a pill keeps a plain grey outline.
_PILL_FALLBACK = (f"border:1px solid {theme.PLAIN_BORDER};border-radius:10px;padding:0 6px;"
                  "white-space:nowrap")


def pill(text: str, colour: str | None = None, *, title: str = "") -> str:
    """A short label in a rounded outline, with a dot of ``colour`` (a ``theme`` value)."""
    hint = f' title="{escape(title)}"' if title else ""
    mark = dot(colour) if colour else ""
    return (f'<span class="kirin-pill"{hint} style="{_PILL_FALLBACK}">{mark}'
            f"{escape(text)}</span>")


def state_pill(state: str, *, title: str = "") -> str:
    return pill(state, theme.STATE_COLOURS.get(state, theme.NEUTRAL), title=title)
