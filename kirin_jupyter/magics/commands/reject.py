"""``%kirin reject $job[1]``: mark a result's image (or all of a job's) as rejected
(``xmp:Rating`` -1 in the file, Bridge's and Lightroom's "rejected"); ``%kirin cull``
then moves it to ``rejected/``. ``--undo`` unmarks it."""

from __future__ import annotations

from ..context import Context
from .rate import marking


def run(ctx: Context, rest: str) -> None:
    words = rest.split()
    if "--undo" in words:
        words.remove("--undo")
        marking(ctx, "reject", " ".join(words), clear_flag=True)
        return
    marking(ctx, "reject", rest, flag="rejected")
