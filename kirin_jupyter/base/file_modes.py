"""The mode a new file gets: files written through a temporary file (mkstemp makes them
0600) are given it, so a result or an export is as readable as any file the user makes;
and the one way such a file is written whole or not at all."""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


@functools.cache
def new_file_mode() -> int:
    """0666 less the process umask (read from /proc: setting the umask to learn it would
    race with other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o644


def write_atomically(target: Path, writer: Callable[[IO[bytes]], None]) -> None:
    """Written to a temporary file beside ``target``, then renamed over it: a reader never
    sees half a file, and a failure leaves what was there before. The file gets the mode
    any new file would (mkstemp's is 0600: a colleague on the machine could not open it)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part",
                                     dir=target.parent)
    try:
        os.fchmod(fd, new_file_mode())
        with os.fdopen(fd, "wb") as fh:
            writer(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
