"""The settings a new ``Client`` starts from when it is given none.

By default: the settings files and the environment. The session layer, which also knows
``%config Kirin``, installs itself as the provider (the package's face does this at first
use), so the config layer never imports the session above it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from . import files
from .settings import Layer, Settings, environment_layer, resolve

_lock = threading.Lock()
_provider: Callable[[], Settings] | None = None


def provide(provider: Callable[[], Settings] | None) -> None:
    """Who answers ``current_settings()`` from now on (None: the files and environment)."""
    global _provider
    with _lock:
        _provider = provider


def current_settings() -> Settings:
    with _lock:
        provider = _provider
    if provider is not None:
        return provider()
    try:
        loaded = files.load()
    except Exception:  # never break a front door over a settings file
        loaded = files.Loaded()
    return resolve(Layer(loaded.values, loaded.sources), environment_layer())
