"""A task followed as server-sent events, as the gateway's Python SDK reads it
(``GET …/generation/task/{id}/stream?cursor=N``; sea-sdk-python ``subscribe``).

``output`` frames (``{"id", "model", "status": "in_progress", "output": [], "cursor": n,
"progress"}``) while the task runs, one each time its progress moves; then one ``done``
event whose data is the task's answer, exactly as a status request gives it. A frame's
``cursor`` counts the frames sent; a client that lost the connection asks again with the
last cursor it saw and gets only what came after. ``:`` lines keep an idle connection
open. The generator sleeps only until the next change, so the end is sent the moment the
task ends.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

TICK = 0.5  # seconds between frames while a task runs (its progress moves meanwhile)
KEEPALIVE = 10.0  # a comment line at least this often on an otherwise idle stream


def event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def frames(view: Callable[[], dict[str, Any]], finish_in: Callable[[], float], *,
           cursor: int = 0, drop_after: int | None = None,
           sleep: Callable[[float], None] = time.sleep) -> Iterator[bytes]:
    """The events of one task from ``cursor`` on: ``view()`` is its answer now and
    ``finish_in()`` the seconds until it ends. With ``drop_after``, the stream stops after
    that many output frames without a terminal event (a dropped connection)."""
    sent = 0
    number = cursor
    last_progress: object = None
    quiet_since = time.monotonic()
    while True:
        answer = view()
        if answer.get("status") in ("completed", "failed"):
            yield event("done", answer)
            return
        progress = answer.get("progress")
        if progress != last_progress:
            number += 1
            last_progress = progress
            frame: dict[str, Any] = {"id": answer.get("id"), "model": answer.get("model"),
                                     "status": "in_progress", "output": [], "cursor": number}
            if progress is not None:
                frame["progress"] = progress
            yield event("output", frame)
            quiet_since = time.monotonic()
            sent += 1
            if drop_after is not None and sent >= drop_after:
                return
        elif time.monotonic() - quiet_since >= KEEPALIVE:
            yield b": keep-alive\n\n"
            quiet_since = time.monotonic()
        sleep(max(0.0, min(TICK, finish_in())) + 0.001)
