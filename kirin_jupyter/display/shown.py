"""The live cards shown in cells of this kernel, so that ``%kirin wait`` can make sure each
finished one's cell holds its final view.

A card's final view is sent from the engine thread when its job, batch or sweep ends. On a
loaded machine a headless run (nbclient) could still save a cell holding the live card
(issue 22 D2; seen again once in 25 runs): ``settle()`` has each finished card send its
final view once more from the kernel's main thread, inside the waiting cell, where it is
delivered in order before that cell ends. Sending it twice is harmless: the same display
ids are updated to the same views.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()
# card -> is its work done? Weak, so a dropped card is forgotten (the value must not hold
# the card: it would keep it alive).
_shown: weakref.WeakKeyDictionary[Any, Callable[[], bool]] = weakref.WeakKeyDictionary()


def remember(card: Any, done: Callable[[], bool]) -> None:
    """A card shown in a cell, whose ``settle()`` turns it into its final view there."""
    with _lock:
        _shown[card] = done


def settle() -> int:
    """Have every shown card whose work is done send its final view (then forget it); the
    number sent."""
    with _lock:
        items = list(_shown.items())
    sent = 0
    for card, done in items:
        if not done():
            continue
        card.settle()
        sent += 1
        with _lock:
            _shown.pop(card, None)
    return sent
