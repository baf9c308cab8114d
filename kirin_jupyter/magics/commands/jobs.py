"""``%kirin jobs`` lists this session's jobs, one line each, and what they have cost."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...base.money import usd
from ...model.quote import CREDIT
from ..context import Context
from .usage import no_words

if TYPE_CHECKING:
    from ...client import Client


def run(ctx: Context, rest: str) -> None:
    no_words("jobs", rest)
    client = ctx.client()
    jobs = client.jobs
    if not jobs:
        print("no jobs in this session")
        return
    from ...display.tables import text_table

    rows = [[f"{index:>3}", job.status, job.request.model.alias, job.task_id or "-",
             f"{job.elapsed:.1f} s", usd(job.cost) if job.cost is not None else "-",
             " ".join(job.prompt.split())]
            for index, job in enumerate(jobs, start=1)]
    # One line a job, within the width a notebook shows without breaking words.
    print(text_table(["  #", "state", "model", "task", "time", "cost", "prompt"], rows,
                     width=ctx.text_width()))
    limit = client.max_cost
    print(f"session spend: {usd(client.session_spend())}"
          + (f" of max_cost {usd(limit)}" if limit is not None else ""))
    if client.max_credits is not None:
        print(credits_line(client))


def credits_line(client: Client) -> str:
    """What the session has committed in credits, against ``max_credits``."""
    spent, _, unknown = client.budget.committed(CREDIT)
    more = f" (and {unknown} job(s) of no known price in credits)" if unknown else ""
    return f"credits committed: {spent} of max_credits {client.max_credits}{more}"
