"""``%kirin cull [--delete]``: every rejected image moved to a ``rejected/`` folder beside
it (the journal follows the move); deleted only with an explicit ``--delete``."""

from __future__ import annotations

from IPython.core.error import UsageError

from ..context import Context
from .usage import unexpected


def run(ctx: Context, rest: str) -> None:
    from ...storage.marks import cull

    words = rest.split()
    delete = words == ["--delete"]
    if words and not delete:
        raise unexpected("cull", rest)
    try:
        done = cull(ctx.client().journal, delete=delete)
    except OSError as exc:
        raise UsageError(f"%kirin cull: {exc}") from None
    for old, new in done:
        print(f"kirin: deleted {old}" if new is None else f"kirin: moved {old} -> {new}")
    if not done:
        print("kirin: no rejected images to move (reject some with %kirin reject $job[i])")
