"""The mode a new file gets: files written through a temporary file (mkstemp makes them
0600) are given it, so a result or an export is as readable as any file the user makes."""

from __future__ import annotations

import functools
from pathlib import Path


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
