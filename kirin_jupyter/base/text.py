"""Plain-text helpers every layer may use: one line cut to a width, the terminal's width,
and an aligned text table (what a terminal, ``--dry-run`` and ``str()`` show)."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Sequence


def cut(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters, ending in an ellipsis when cut."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: max(0, limit - 1)].rstrip() + "…"


def shown_value(value: object, limit: int = 60) -> str:
    """A setting's value as a message quotes it: its repr, cut to ``limit``, and a URL's
    user, password and query left out (``s3://AKIA:secret@b`` must never be echoed)."""
    if isinstance(value, str) and "://" in value:
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(value)
            host = parts.netloc.rpartition("@")[2]
            value = f"{parts.scheme}://{'…@' if '@' in parts.netloc else ''}{host}{parts.path}" \
                + ("?…" if parts.query else "")
        except ValueError:
            value = value.split("://", 1)[0] + "://…"
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def terminal_width(default: int = 100) -> int:
    """The terminal's width (or ``$COLUMNS``); ``default`` where there is none."""
    return max(40, shutil.get_terminal_size((default, 24)).columns)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *,
               width: int | None = None, last: str = "cut") -> str:
    """Aligned columns under a header. The last column takes what is left of ``width``:
    cut with an ellipsis (``last="cut"``) or wrapped at words under itself (``"wrap"``)."""
    width = width or terminal_width()
    count = len(headers)
    widths = [max([len(headers[i]), *(len(r[i]) for r in rows)]) for i in range(count - 1)]
    indent = sum(widths) + 2 * len(widths)
    room = max(16, width - indent - 1)

    def line(cells: Sequence[str]) -> list[str]:
        lead = "".join(f"{cells[i]:<{widths[i]}}  " for i in range(count - 1))
        tail = cells[-1]
        if last == "wrap":
            parts = textwrap.wrap(tail, room, break_long_words=False,
                                  break_on_hyphens=False) or [""]
        else:
            parts = [cut(tail, room)]
        return [(lead + parts[0]).rstrip()] + [(" " * indent + p).rstrip() for p in parts[1:]]

    out = line(headers)
    out.append("".join("-" * w + "  " for w in widths) + "-" * min(room, max(
        [len(headers[-1]), *(min(room, len(r[-1])) for r in rows)])))
    for row in rows:
        out += line(row)
    return "\n".join(out)
