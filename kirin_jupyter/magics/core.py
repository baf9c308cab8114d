"""``%kirin`` / ``%%kirin``: the magics class, which dispatches a line to one generation
(generation.py) or to one subcommand (commands/).

Module import stays light (no httpx, Pillow or ipywidgets) so ``%load_ext`` is fast.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand

from . import generation
from .commands import NAMES, command
from .commands.help import help_doc
from .configurable import Kirin
from .context import Context

if TYPE_CHECKING:
    from ..client import Client

__all__ = ["Kirin", "KirinMagics"]


@magics_class
class KirinMagics(Magics):
    """The magics; one ``Kirin`` configurable holds their defaults."""

    def __init__(self, shell: Any) -> None:
        from ..session import session_for

        super().__init__(shell=shell)
        self.config_obj = Kirin(parent=shell)
        if self.config_obj not in shell.configurables:
            shell.configurables.append(self.config_obj)
        self.session = session_for(shell)
        self.session.configurable = self.config_obj
        # %config applies at once, to the client the panel already holds too.
        self.config_obj.observe(lambda _change: self.session.refresh())
        for problem in self.session.reload_files().problems:  # read at load, like before
            print(problem, file=sys.stderr)
        self.context = Context(shell=shell, session=self.session)

    def client(self) -> Client:
        """The session's client, following %config Kirin, the files and the environment."""
        return self.session.client()

    # no_var_expand: IPython would evaluate {expressions} and $vars on the magic line;
    # ours are looked up as plain names only (see prompting.py).
    @no_var_expand
    @cell_magic
    def kirin(self, line: str, cell: str) -> None:
        try:
            generation.from_cell(self.context, line, cell)
        except UsageError as exc:  # the one-line error names the magic that was typed
            raise _as_cell_magic(exc) from None

    @no_var_expand
    @line_magic("kirin")  # type: ignore[arg-type]
    def kirin_line(self, line: str) -> Any:
        words = line.split()
        name = words[0] if words else "help"
        if name in NAMES:  # a subcommand word is never a (billed) prompt
            rest = line.split(None, 1)[1] if len(words) > 1 else ""
            return command(name)(self.context, rest)
        generation.from_line(self.context, line)
        return None


def _as_cell_magic(error: UsageError) -> UsageError:
    """``%kirin: ...`` raised on the way of a ``%%kirin`` cell, titled as the cell was
    typed: ``%%kirin: ...`` (the checks are shared by the line and the cell magic)."""
    message = str(error)
    if message.startswith("%kirin"):
        return UsageError("%" + message)
    return error


KirinMagics.kirin.__doc__ = help_doc()  # %%kirin? shows the options table
KirinMagics.kirin_line.__doc__ = help_doc()  # type: ignore[assignment]
