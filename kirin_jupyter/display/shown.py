"""The live cards shown in cells of this kernel, so that ``%kirin wait`` can make sure each
finished one's cell holds its final view.

A card's final view is sent from the engine thread when its job, batch or sweep ends. On a
loaded machine a headless run (nbclient) could still save a cell holding the live card
(issue 22 D2; seen again once in 25 runs): ``settle()`` sends each finished card's final
view once more from the kernel's main thread, inside the waiting cell, where it is
delivered in order before that cell ends. Sending it twice is harmless: the same display
id is updated to the same view.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()
# card -> (is its work done?, the final view to show): weak, so a dropped card is forgotten
_shown: weakref.WeakKeyDictionary[Any, tuple[Any, Callable[[], bool], Callable[[], Any]]] = \
    weakref.WeakKeyDictionary()


def remember(card: Any, handle: Any, done: Callable[[], bool],
             final: Callable[[], Any]) -> None:
    """A card shown in a cell through ``handle`` (an IPython display handle)."""
    with _lock:
        _shown[card] = (handle, done, final)


def settle() -> int:
    """Send the final view of every shown card whose work is done (then forget it); the
    number sent."""
    with _lock:
        items = list(_shown.items())
    sent = 0
    for card, (handle, done, final) in items:
        if not done():
            continue
        handle.update(final())
        sent += 1
        with _lock:
            _shown.pop(card, None)
    return sent
