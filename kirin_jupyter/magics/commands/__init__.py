"""One module per ``%kirin`` subcommand, each a ``run(context, rest_of_line)``; the
magics class only looks the name up here (jupysql's ``cmd/`` is the model).

A module is imported when its subcommand is first used, so ``%load_ext`` stays fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, cast

from ..context import Context
from .usage import USAGE

Command = Callable[[Context, str], Any]

NAMES = tuple(USAGE)  # a subcommand word is never a (billed) prompt


def command(name: str) -> Command:
    """The ``run`` of subcommand ``name`` (one of ``NAMES``)."""
    return cast(Command, importlib.import_module(f"{__name__}.{name}").run)
