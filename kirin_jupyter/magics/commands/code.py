"""``%kirin code`` puts the panel's last code in a new cell below (a button click
cannot add a cell)."""

from __future__ import annotations

from ..cells import insert_next_cell
from ..context import Context
from .usage import no_words


def run(ctx: Context, rest: str) -> None:
    no_words("code", rest)
    print(insert_next_cell(ctx.shell))
