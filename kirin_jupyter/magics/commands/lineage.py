"""``%kirin lineage ID|PATH`` shows the chain of results used as references."""

from __future__ import annotations

from IPython.core.error import UsageError
from IPython.display import display

from ...errors import KirinError
from .. import grammar
from ..context import Context
from ..variables import named

USAGE = "%kirin lineage TASK_ID|EXTERNAL_ID|PATH"


def run(ctx: Context, rest: str) -> None:
    from ...display.provenance_views import LineageView
    from ...lineage import chain, find_node

    if rest.split():
        rest = named("lineage", rest, ctx.user_ns)
    client = ctx.client()
    if not rest.strip():
        raise UsageError(f"%kirin lineage: which one? usage: {USAGE}")
    words = grammar._split(rest)
    if len(words) != 1:
        raise UsageError(f"%kirin lineage: one id or path, not {len(words)}; usage: "
                         f"{USAGE}")
    try:
        journal = client.journal
        node = find_node(words[0], journal)
    except KirinError as exc:  # ValidationError too: one line, never a traceback
        raise UsageError(f"%kirin lineage: {exc}") from None
    display(LineageView(chain(node, journal)))  # type: ignore[no-untyped-call]
