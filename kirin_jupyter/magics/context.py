"""What every subcommand and generation gets from the magics: the shell and its session.

Passed as an argument, so no subcommand imports the magics class (jupysql's ``cmd/``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..base import frontends
from .grammar import HELP_WIDTH

if TYPE_CHECKING:
    from ..client import Client
    from ..session import Session


@dataclass(frozen=True)
class Context:
    shell: Any
    session: Session

    @property
    def user_ns(self) -> dict[str, Any]:
        return self.shell.user_ns  # type: ignore[no-any-return]

    def client(self) -> Client:
        """The session's client, following %config Kirin, the files and the environment."""
        return self.session.client()

    def terminal(self) -> bool:
        """No widgets here: text only (see frontends.py)."""
        return frontends.mode(frontends.detect(self.shell)) == "terminal"

    def text_width(self) -> int:
        """Columns for printed text: 88 (a notebook's output breaks longer lines anywhere,
        even mid-word), or the terminal's width when that is narrower."""
        width = HELP_WIDTH
        if self.terminal():
            from ..display.tables import terminal_width

            width = max(48, min(width, terminal_width(width) - 1))
        return width
