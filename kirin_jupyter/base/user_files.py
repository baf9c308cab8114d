"""One way to read a file a user points at, which may have come from anywhere.

A path given to ``%kirin show``, ``rerun``, ``lineage``, ``provenance()``, ``compare()``,
``--image`` or the panel's path field may be a FIFO (reading it hangs), a device or a link
to one (``/dev/zero`` never ends), or a huge sparse file. So before any byte is read: the
links are resolved, the target must be a regular file, and its size must be within the
caller's cap; it is then opened without blocking and read with that cap, so a file that
grows (or is swapped) between the check and the read still cannot take more.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import ValidationError


def describe_size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.0f} kB"


def checked_path(path: str | os.PathLike[str], what: str = "file") -> Path:
    """The real path of a regular file, links resolved; one-line error otherwise."""
    given = Path(path).expanduser()
    name = _short(str(given))
    try:
        real = Path(os.path.realpath(given))
        info = real.stat()
    except FileNotFoundError:
        raise ValidationError(f"{what} not found: {name}") from None
    except (OSError, ValueError) as exc:  # a loop of links, a NUL in the name, no access
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not found"
        raise ValidationError(f"cannot read the {what} {name}: {reason}") from None
    if not stat.S_ISREG(info.st_mode):
        kind = _kind(info.st_mode)
        raise ValidationError(f"the {what} {name} is {kind}, not a regular file; "
                              "give the path of an image file")
    return real


def read_user_file(path: str | os.PathLike[str], limit: int, what: str = "file") -> bytes:
    """The bytes of a user's file, at most ``limit``: ``ValidationError`` (one line) for
    anything else (not a regular file, too large, unreadable)."""
    real = checked_path(path, what)
    name = _short(str(Path(path).expanduser()))
    try:
        fd = os.open(real, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                     | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise ValidationError(f"cannot read the {what} {name}: "
                              f"{exc.strerror or exc.__class__.__name__}") from None
    try:
        info = os.fstat(fd)  # what was opened, not what the name pointed at a moment ago
        if not stat.S_ISREG(info.st_mode):
            raise ValidationError(f"the {what} {name} is {_kind(info.st_mode)}, not a "
                                  "regular file")
        if info.st_size > limit:
            raise ValidationError(f"the {what} {name} is {describe_size(info.st_size)}; "
                                  f"files over {describe_size(limit)} are not read")
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise ValidationError(f"cannot read the {what} {name}: "
                              f"{exc.strerror or exc.__class__.__name__}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise ValidationError(f"the {what} {name} grew past {describe_size(limit)} while "
                              "it was read; it is not used")
    return data


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else "…" + text[-(limit - 1):]
