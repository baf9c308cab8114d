"""How a domain object asks to be shown, without importing the display layer above it.

The display layer fills this registry (``display.formatters.install``), and the package's
face installs that at first use; a domain object asks ``render(kind, ...)``. With nothing
registered (a module imported on its own, past the face), the caller's plain fallback
is used: the object still works, it only shows less.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()
_renderers: dict[str, Callable[..., Any]] = {}


def register(kind: str, renderer: Callable[..., Any]) -> None:
    with _lock:
        _renderers[kind] = renderer


def render(kind: str, *args: Any, fallback: Callable[[], Any]) -> Any:
    """What the display layer makes of ``args`` for ``kind``, else ``fallback()``."""
    with _lock:
        renderer = _renderers.get(kind)
    return fallback() if renderer is None else renderer(*args)
