"""``%kirin rate $job[2] 4`` (or a path, a task id): stars 0-5 for a result's image, kept
in the journal and written into the file's XMP (``xmp:Rating``) unless provenance is off.
``pick`` and ``reject`` go the same way (``marking`` below)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError

from ...errors import ValidationError
from ...storage.shared_results import local_paths
from ..context import Context
from ..variables import named
from .usage import USAGE


def run(ctx: Context, rest: str) -> None:
    words = rest.split()
    if len(words) < 2:
        raise UsageError(f"%kirin rate: which image, and how many stars? usage: "
                         f"{USAGE['rate']}")
    *target, stars = rest.rsplit(None, 1)
    marking(ctx, "rate", " ".join(target), rating=stars)


def marking(ctx: Context, command: str, rest: str, **change: Any) -> None:
    """Mark every file ``rest`` names ($job, $job[i], a path, a task id) and print one
    line each: its stars, its flag, where the mark went."""
    from ...storage.marks import mark

    if not rest.split():
        raise UsageError(f"%kirin {command}: which image? usage: {USAGE[command]}")
    text = named(command, rest, ctx.user_ns).strip()
    journal = ctx.client().journal
    paths = files_named(text, journal, command)
    try:
        for path in paths:
            done = mark(journal, path, **change)
            flag = f" {done.flag}" if done.flag else ""
            where = "journal and file" if done.in_file else "journal"
            print(f"kirin: {done.stars or 'unrated'}{flag} ({where}): {done.path}")
    except ValidationError as exc:
        raise UsageError(f"%kirin {command}: {exc}") from None


def files_named(text: str, journal: Any, command: str) -> list[Path]:
    """The file a path names, or every file of the job a task id names."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"%kirin {command}: cannot read {text!r} ({exc})") from None
    if len(words) != 1:
        raise UsageError(f"%kirin {command}: unexpected {text!r}; usage: {USAGE[command]}")
    path = Path(words[0]).expanduser()
    if path.is_file():
        return [path]
    row = journal.find(words[0])
    if row is None:
        raise UsageError(f"%kirin {command}: {words[0]!r} is no saved file, task id or "
                         "external id")
    found = local_paths(row.get("paths"))
    if not found:
        raise UsageError(f"%kirin {command}: job {words[0]!r} has no saved files")
    return found
