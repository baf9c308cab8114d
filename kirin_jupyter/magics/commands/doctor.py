"""``%kirin doctor`` checks the host and the key, at no cost (it creates nothing)."""

from __future__ import annotations

from IPython.core.error import UsageError

from ..context import Context
from .usage import no_words


def run(ctx: Context, rest: str) -> None:
    from ...errors import KirinError
    from ...service.host_check import table

    no_words("doctor", rest)
    try:
        report = ctx.client().doctor()
    except KirinError as exc:
        raise UsageError(f"%kirin doctor: {exc}") from None
    print(table(report))
