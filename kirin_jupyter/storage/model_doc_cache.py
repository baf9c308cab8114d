"""The gateway's model documents, kept in ``KIRIN_HOME/model_docs`` for a day.

A file per host and model, written whole or not at all, so ``%kirin models --live`` asks
the gateway at most once a day per model and a half-written file is never read. The
file's modification time is when it was fetched. What is read back is bounded like an
answer from the wire: the folder is the user's, but a file there may be anything.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..base.file_modes import write_atomically

DAY = 24 * 60 * 60.0
FOLDER = "model_docs"


@dataclass(frozen=True)
class Cached:
    """A cached document: its bytes and when they were fetched (seconds since the epoch)."""

    body: bytes
    fetched_at: float


class ModelDocCache:
    """Documents of one host (a folder per host: the simulator's never stand for a real
    gateway's). Names are checked by the caller (``model_doc.MODEL_NAME``) before any
    becomes a file name here."""

    def __init__(self, home: Path, host: str, *, max_bytes: int, max_age: float = DAY
                 ) -> None:
        digest = hashlib.sha256(host.encode("utf-8")).hexdigest()[:16]
        self.folder = home / FOLDER / digest
        self.max_bytes = max_bytes
        self.max_age = max_age

    def path(self, name: str) -> Path:
        if not name or name.startswith(".") or "/" in name or "\\" in name:
            raise ValueError(f"not a cache name: {name!r}")
        return self.folder / name

    def read(self, name: str, now: float | None = None) -> Cached | None:
        """The document if it was fetched less than ``max_age`` ago, else None (a file that
        cannot be read, is too large or comes from the future counts as none)."""
        path = self.path(name)
        now = time.time() if now is None else now
        try:
            with path.open("rb") as fh:
                fetched = path.stat().st_mtime
                if not 0 <= now - fetched < self.max_age:
                    return None
                body = fh.read(self.max_bytes + 1)
        except OSError:
            return None
        return None if len(body) > self.max_bytes else Cached(body, fetched)

    def write(self, name: str, body: bytes) -> None:
        """Keep ``body`` as fetched now; raises ``OSError`` when the folder is not writable
        (the caller logs it: a document that was fetched is shown either way)."""
        def writer(fh: IO[bytes]) -> None:
            fh.write(body)

        write_atomically(self.path(name), writer)
