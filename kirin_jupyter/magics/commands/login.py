"""``%kirin login`` takes an API key for this session, without echo, kept in memory only."""

from __future__ import annotations

from IPython.core.error import UsageError

from ..context import Context
from .usage import no_words


def run(ctx: Context, rest: str) -> None:
    import getpass

    no_words("login", rest)
    key = getpass.getpass("Kirin API key (kept in memory only): ").strip()
    if not key:
        raise UsageError("%kirin login: no key entered")
    ctx.session.login_key = key
    print(f"kirin: key set for this session; service {ctx.client().base_url}")
