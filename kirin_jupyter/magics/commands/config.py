"""``%kirin config`` prints the service, the key, the paths, the budget, and every
setting with where its value came from."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...base import frontends
from ...config import settings
from ..context import Context
from .usage import no_words

if TYPE_CHECKING:
    from ...client import Client


def run(ctx: Context, rest: str) -> None:
    no_words("config", rest)
    session = ctx.session
    client = ctx.client()
    resolved = session.settings()
    files = session.files()
    print(f"service:    {'built-in simulator' if client.simulated else client.base_url}"
          f" ({client.host_reason})")
    source = "%kirin login" if session.login_key else f"${settings.ENV_API_KEY}"
    has_key = bool(session.login_key or settings.api_key_from_env())
    print(f"api key:    {'set' if has_key else 'not set'} (from {source})")
    print(f"output dir: {client.output_location}")
    print(f"journal:    {client.journal.where}")
    print(f"front end:  {frontends.DESCRIPTIONS[frontends.detect(ctx.shell)]}")
    print(f"budget:     {budget_text(client)}")
    for name in settings.names():
        print(f"Kirin.{name} = {getattr(resolved, name)!r}  (from "
              f"{resolved.source(name)})")
    print(f"settings files read: {', '.join(str(p) for p in files.files) or 'none'}")
    for problem in files.problems:
        print(problem)


def budget_text(client: Client) -> str:
    """'max_cost $5', 'max_credits 400 credits', both, or 'no limit'."""
    limits = [str(limit) for limit in client.budget.limits()]
    currency = client.service_currency()
    quoted = f" (the service quotes in {currency})" if currency else ""
    return (" and ".join(limits) or "no limit") + quoted
