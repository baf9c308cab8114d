"""How a domain object asks to be shown, without importing the display layer above it.

The display layer fills this registry (``display.formatters.install``); a domain object
asks ``render(kind, ...)``, or ``html(kind, obj)`` for its ``_repr_html_``. The package's
face, which every import of the package runs first, names once (``fill_with``) who fills
the registry when a renderer is first asked for: so a ``Job`` made after
``from kirin_jupyter.client import Client`` shows as a card in marimo or nbconvert too,
and nothing below the display layer imports it. With nothing registered and no one to
fill it, the caller's plain fallback is used: the object still works, it only shows less.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()
_loading = threading.RLock()  # a second caller waits while the first one fills the registry
_renderers: dict[str, Callable[..., Any]] = {}
_filler: Callable[[], None] | None = None


def register(kind: str, renderer: Callable[..., Any]) -> None:
    with _lock:
        _renderers[kind] = renderer


def fill_with(filler: Callable[[], None] | None) -> None:
    """Who fills the registry, once, when a renderer is first asked for and missing (the
    package's face names it; nothing is imported until then)."""
    global _filler
    with _lock:
        _filler = filler


def render(kind: str, *args: Any, fallback: Callable[[], Any]) -> Any:
    """What the display layer makes of ``args`` for ``kind``, else ``fallback()``."""
    renderer = _find(kind)
    return fallback() if renderer is None else renderer(*args)


def html(kind: str, obj: Any) -> str | None:
    """``obj``'s card as HTML, for its ``_repr_html_``; None (a front end then shows its
    ``repr``) when no display layer is there to draw it."""
    shown = render(kind, obj, fallback=lambda: None)
    return None if shown is None else str(shown)


def _find(kind: str) -> Callable[..., Any] | None:
    global _filler
    with _lock:
        renderer = _renderers.get(kind)
    if renderer is not None:
        return renderer
    with _loading:
        with _lock:
            filler, _filler = _filler, None
        if filler is not None:
            filler()
    with _lock:
        return _renderers.get(kind)
