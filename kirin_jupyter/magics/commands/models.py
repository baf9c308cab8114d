"""``%kirin models`` shows the models, their options and prices, as a table."""

from __future__ import annotations

from IPython.display import display

from ..context import Context
from .usage import no_words


def run(ctx: Context, rest: str) -> None:
    from ...display.models import ModelsView

    no_words("models", rest)
    display(ModelsView())  # type: ignore[no-untyped-call]
