"""Every colour and font the package shows, as front-end theme variables with fallbacks.

JupyterLab (Light, Dark and any theme) defines the ``--jp-*`` variables; VS Code's notebook
renderer defines ``--vscode-*``; marimo's light and dark themes define plain ``--foreground``,
``--background``, ``--muted-foreground`` and ``--border`` (they reach into its widgets'
shadow roots, as custom properties inherit); classic Notebook, nbconvert HTML and viewers
without any of them get the light fallbacks, which pass 4.5:1 contrast on white.

Outputs say them once, in a style block (``css.py``); the panel's widgets say them inline
(``pill``, ``dot``, ``border`` below).

Rules that keep text readable in every theme (the browser tests measure it):
- text is only ever ``TEXT`` or ``MUTED``, on the page's own background (no tinted fills
  behind text);
- a state (done, failed, running) is told by a coloured dot or border next to the words,
  never by coloured words, since brand and state colours are not text colours in dark themes.
"""

from __future__ import annotations

from html import escape


def _var(jupyter: str, vscode: str, fallback: str, marimo: str | None = None) -> str:
    if marimo is not None:
        fallback = f"var(--{marimo}, {fallback})"
    return f"var(--{jupyter}, var(--{vscode}, {fallback}))"


def plain(colour: str) -> str:
    """The last fallback inside a ``var()`` chain: what a page without the theme shows."""
    return colour.rsplit(",", 1)[-1].strip(" )")


TEXT = _var("jp-ui-font-color1", "vscode-foreground", "#1f2328", "foreground")
MUTED = _var("jp-ui-font-color2", "vscode-descriptionForeground", "#59636e", "muted-foreground")
BORDER = _var("jp-border-color1", "vscode-editorWidget-border", "#d0d7de", "border")
BORDER_SOFT = _var("jp-border-color2", "vscode-editorGroup-border", "#e4e7eb", "border")
SURFACE = _var("jp-layout-color1", "vscode-editor-background", "#ffffff", "background")
# The notebook's own background (JupyterLab Dark draws outputs on layout-color0, one step
# darker than SURFACE): what a sticky cell must paint to cover what scrolls under it.
PAGE = _var("jp-layout-color0", "vscode-editor-background", "#ffffff", "background")
SURFACE_ALT = _var("jp-layout-color2", "vscode-editorWidget-background", "#f3f4f6")
ACCENT = _var("jp-brand-color1", "vscode-focusBorder", "#0969da")
SUCCESS = _var("jp-success-color1", "vscode-testing-iconPassed", "#1a7f37")
ERROR = _var("jp-error-color1", "vscode-errorForeground", "#cf222e")
WARN = _var("jp-warn-color1", "vscode-editorWarning-foreground", "#bf8700")
NEUTRAL = _var("jp-border-color1", "vscode-descriptionForeground", "#8c959f")
# For HTML sanitisers that drop ``var()`` and ``<style>`` (JupyterLab's, for an untrusted
# saved notebook): a half-transparent grey reads as a border on light and dark pages alike.
PLAIN_BORDER = "rgba(128,128,128,0.5)"
PLAIN_RULE = "rgba(128,128,128,0.3)"  # a fainter one, between rows
# A faint fill that reads on light and dark pages alike (the compare slider's track).
TRACK = "rgba(128,128,128,0.22)"
FONT = "var(--jp-ui-font-family, system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif)"
MONO = "var(--jp-code-font-family, ui-monospace, SFMono-Regular, Menlo, monospace)"

STATE_COLOURS = {
    "pending": NEUTRAL,
    "submitting": NEUTRAL,
    "not_created": NEUTRAL,
    "queued": WARN,
    "running": ACCENT,
    "downloading": ACCENT,
    "completed": SUCCESS,
    "done": SUCCESS,
    "failed": ERROR,
    "some failed": WARN,  # a batch that ended with failures among its results
    "stopped": NEUTRAL,
    "simulator": WARN,
}


# Every colour an inline fallback style may say (``css.py``): greys that read on any page,
# and the plain light-theme values of the accent and the error red (borders and bars, never
# text: untrusted, text is in the page's own colours).
FALLBACK_COLOURS = frozenset({PLAIN_BORDER, PLAIN_RULE, TRACK, plain(ACCENT),
                              plain(ERROR)})


def border(colour: str = BORDER, side: str = "border", width: str = "1px") -> str:
    """A CSS border declaration that survives a sanitiser: the plain grey, then the theme's."""
    return f"{side}:{width} solid {PLAIN_BORDER};{side}:{width} solid {colour};"


def dot(colour: str, size: int = 8) -> str:
    """A coloured disc: the state's colour without putting words in that colour."""
    return (f'<span aria-hidden="true" style="display:inline-block;width:{size}px;'
            f'height:{size}px;border-radius:50%;background:{plain(colour)};'
            f'background:{colour};'
            f'vertical-align:middle;margin-right:4px;flex:none"></span>')


def pill(text: str, colour: str | None = None, *, title: str = "") -> str:
    """A small rounded label: theme text, a border, and a dot of ``colour`` if given.

    ``text`` is escaped here and should be short (it never wraps); ``colour`` must be one of
    this module's values.
    """
    mark = dot(colour) if colour else ""
    hint = f' title="{escape(title)}"' if title else ""
    return (f'<span class="kirin-pill"{hint} style="display:inline-flex;align-items:center;'
            f"padding:0 7px;{border()}border-radius:10px;font-size:11px;"
            f'line-height:18px;color:{TEXT};white-space:nowrap">{mark}{escape(text)}</span>')


def state_pill(state: str) -> str:
    return pill(state, STATE_COLOURS.get(state, NEUTRAL))
