"""The callbacks of a job or a batch: its cards, called on every change and tick from the
engine thread. A broken display must never break the work it shows."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger("kirin_jupyter")

T = TypeVar("T")


class Listeners(Generic[T]):
    """Callbacks of one ``T``; safe to add to from any thread while they are called."""

    def __init__(self, what: str) -> None:
        self._what = what  # for the log line of a listener that fails
        self._lock = threading.Lock()
        self._calls: list[Callable[[T], None]] = []

    def add(self, owner: T, listener: Callable[[T], None]) -> None:
        """Keep ``listener`` and call it once now, so it starts from the current state."""
        with self._lock:
            self._calls.append(listener)
        listener(owner)

    def notify(self, owner: T) -> None:
        with self._lock:
            calls = list(self._calls)
        for call in calls:
            try:
                call(owner)
            except Exception:
                log.exception("%s listener failed", self._what)

    def __bool__(self) -> bool:
        return bool(self._calls)
