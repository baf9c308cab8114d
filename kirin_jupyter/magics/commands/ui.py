"""``%kirin ui`` opens the panel on the magics' client (a terminal gets a hint)."""

from __future__ import annotations

from IPython.display import display

from ..context import Context
from .usage import no_words


def run(ctx: Context, rest: str) -> None:
    no_words("ui", rest)
    if ctx.terminal():
        print("kirin: the panel needs a notebook front end with widgets (JupyterLab, "
              "Notebook 7, VS Code);\n  here, use %kirin PROMPT or a %%kirin cell "
              "(%kirin help lists the options)")
        return
    from ...panel import Panel

    display(Panel(client=ctx.client()))  # type: ignore[no-untyped-call]
