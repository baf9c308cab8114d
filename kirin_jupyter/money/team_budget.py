"""The team budget (``team_max_cost`` on a shared PostgreSQL journal): each job reserves
its price in the database before its create is sent, so kernels on many hosts can never
overrun it together. The journal turns the reservation into the billed cost, or releases
it, when the job ends; a dead kernel's reservations stop counting when their lease runs
out. The personal ``max_cost`` (``budget.Budget``) is checked as well, first."""

from __future__ import annotations

import asyncio
import calendar
import sqlite3
import time
from decimal import Decimal

from ..engine.job import Job
from ..errors import BudgetExceeded, KirinError
from ..model.quote import USD, Quote
from ..storage.journal_pg import PgJournal
from .prices import Prices


def period_start(period: str, now: float | None = None) -> float:
    """When the budget's period began: today's or this month's UTC midnight, or 0."""
    at = time.gmtime(time.time() if now is None else now)
    if period == "day":
        return float(calendar.timegm((at.tm_year, at.tm_mon, at.tm_mday, 0, 0, 0)))
    if period == "month":
        return float(calendar.timegm((at.tm_year, at.tm_mon, 1, 0, 0, 0)))
    return 0.0


class TeamBudget:
    """Reserves each job's price against the team's limit before its create."""

    def __init__(self, journal: PgJournal, limit: Decimal, period: str,
                 prices: Prices) -> None:
        self.journal, self.limit, self.period, self.prices = journal, limit, period, prices

    def __repr__(self) -> str:
        return f"TeamBudget(${self.limit} per {self.period})"

    async def reserve(self, job: Job) -> None:
        """Reserve the job's price, or raise ``BudgetExceeded`` (nothing is sent). A
        price that cannot be told is never counted as zero: the job is refused."""
        quote: Quote | None = job.quote
        if quote is None or quote.usd is None:
            quote = await self.prices.ask(job.request)
        amount = quote.usd
        if amount is None:
            raise BudgetExceeded(
                f"team budget: the price of job {job.external_task_id} is not known in USD, "
                "so it cannot be reserved against team_max_cost; nothing was sent")
        request = job.request
        try:
            spent = await asyncio.to_thread(
                self.journal.reserve, request.external_task_id, request.model.name, amount,
                self.limit, period_start(self.period), USD)
        except sqlite3.Error as exc:  # unreachable: no create without its reservation
            raise KirinError(f"team budget: nothing was sent, as the reservation could not "
                             f"be made ({exc})") from None
        if spent is not None:
            span = "in all" if self.period == "all" else f"this {self.period}"
            raise BudgetExceeded(
                f"team budget: ${spent:.2f} of the team's ${self.limit:.2f} {span} is spent "
                f"or reserved; this job's ${amount:.2f} would pass it; nothing was sent")
