"""``%kirin pick $job[0]``: mark a result's image (or all of a job's) as picked, for
``%kirin history --picked`` and ``export(..., picked=True)``; ``--undo`` unmarks it."""

from __future__ import annotations

from ..context import Context
from .rate import marking


def run(ctx: Context, rest: str) -> None:
    words = rest.split()
    if "--undo" in words:
        words.remove("--undo")
        marking(ctx, "pick", " ".join(words), clear_flag=True)
        return
    marking(ctx, "pick", rest, flag="picked")
