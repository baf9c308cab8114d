"""``%kirin models`` shows the models, their options and prices, as a table;
``%kirin models --live [MODEL] [--refresh]`` shows the gateway's own list of Kirin models,
or its document for one model and what of it kirin-jupyter does not know yet."""

from __future__ import annotations

import shlex

from IPython.core.error import UsageError
from IPython.display import display

from ..context import Context
from .usage import unexpected


def run(ctx: Context, rest: str) -> None:
    from ...display.models import ModelsView

    if not rest.split():
        display(ModelsView())  # type: ignore[no-untyped-call]
        return
    live(ctx, rest)


def live(ctx: Context, rest: str) -> None:
    """The gateway's list or one model's document; a failed fetch is one line."""
    from ...errors import KirinError

    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise UsageError(f"%kirin models: {exc}") from None
    refresh = "--refresh" in words
    words = [word for word in words if word != "--refresh"]
    if not words or words[0] != "--live" or len(words) > 2 \
            or any(word.startswith("-") for word in words[1:]):
        raise unexpected("models", rest)
    model = words[1] if len(words) == 2 else None
    try:
        client = ctx.client()
        shown = (client.model_list(refresh=refresh) if model is None
                 else client.model_doc(model, refresh=refresh))
    except KirinError as exc:
        raise UsageError(f"%kirin models --live: {exc}") from None
    display(shown)  # type: ignore[no-untyped-call]
