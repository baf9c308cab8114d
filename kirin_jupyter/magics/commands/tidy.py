"""``%kirin tidy NOTEBOOK.ipynb [--drop-widgets]``: repair a saved notebook in place so
that GitHub and nbviewer render it (``kirin.tidy``), from the notebook people work in."""

from __future__ import annotations

import shlex

from IPython.core.error import UsageError

from ...errors import ValidationError
from ..context import Context
from .usage import unexpected


def run(ctx: Context, rest: str) -> None:
    from ...exporter.tidy import tidy

    try:
        words = shlex.split(rest)  # a path with spaces is quoted
    except ValueError:
        raise unexpected("tidy", rest) from None
    drop = "--drop-widgets" in words
    paths = [w for w in words if w != "--drop-widgets"]
    if len(paths) != 1 or paths[0].startswith("--") or len(words) - len(paths) > 1:
        raise unexpected("tidy", rest)
    try:
        report = tidy(paths[0], widgets="drop" if drop else "repair")
    except (ValidationError, OSError) as exc:
        raise UsageError(f"%kirin tidy: {exc}") from None
    print(f"kirin: {report}")
