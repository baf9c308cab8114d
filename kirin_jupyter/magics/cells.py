"""The last ``%%kirin`` cell a panel showed, for ``%kirin code`` to insert as a new cell.

A widget's button cannot add a cell to the notebook: only code that is being executed can,
through IPython's ``set_next_input`` (a payload the front end turns into a cell below). So a
panel remembers the code it shows here, and the magic inserts it. This module stays free of
ipywidgets, so the magic does not import the panel to find it.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_last: str | None = None


def remember(cell: str) -> None:
    """Called by a panel whenever it shows a cell as code."""
    global _last
    with _lock:
        _last = cell


def last() -> str | None:
    with _lock:
        return _last


def insert_next_cell(shell: Any) -> str:
    """Put the last code in a new cell below the running one; say what happened."""
    cell = last()
    if cell is None:
        return ("kirin: no panel code yet; click 'Show as code' in the panel (or 'code' "
                "under a result) first")
    shell.set_next_input(cell, replace=False)
    return "kirin: the panel's last code is in a new cell below"
