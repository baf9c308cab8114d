"""The session's budget: ``max_cost`` in USD, ``max_credits`` in the service's credits.

A limit is checked only in its own unit. There is no rate between USD and credits, so a
service that quotes in credits cannot be held to ``max_cost``, nor one that quotes in USD
to ``max_credits``: the job (or the whole batch) is refused in one line that says which
limit to set, and nothing is sent. Before this, a quote in credits counted as "price
unknown", which left ``max_cost`` all but off on such a service.

Committed, in USD: what finished jobs cost (the service's ``usage.cost``, in USD per the
pages) plus the quotes, else estimates, of jobs in flight or possibly billed. In credits:
no task answer says what a job cost in credits, so every job that is running, billed or
possibly billed counts at its credit quote (never at zero).

A job that ended possibly billed with no price at all (its cost unreadable, "NaN" or
negative, or a timeout, with no quote and no earlier price to estimate from) makes the
committed sum unknown, in either unit, and the next job is refused: counting it at zero
turned the budget off for every job after a service sent ``"cost": "NaN"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..errors import (
    APIError,
    BudgetExceeded,
    NeverCreated,
    OutcomeUnknown,
    TaskFailed,
    ValidationError,
)
from ..model.quote import CREDIT, USD, Quote, estimated, summed, unit_of

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from ..engine.job import Job
    from ..engine.registry import JobRegistry
    from ..model.request import GenerationRequest
    from .prices import Prices

PriceOf = Callable[["GenerationRequest", "Quote | None"], "Decimal | None"]


@dataclass(frozen=True)
class Limit:
    """One budget: the setting's name, its amount, and its unit (``USD`` or ``credit``)."""

    name: str
    amount: Decimal
    unit: str

    def show(self, value: Decimal) -> str:
        return f"${value}" if self.unit == USD else f"{value} credits"

    def __str__(self) -> str:
        return f"{self.name} {self.show(self.amount)}"


def checked_limit(value: Decimal | float | str | None, name: str, unit: str
                  ) -> Decimal | None:
    """A budget, or None for no limit (None, "", 0); anything else is one clear error."""
    if value is None or value == "" or value == 0:
        return None
    try:
        amount = Decimal(str(value).strip())
    except ArithmeticError:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount < 0:
        raise ValidationError(f"{name} must be an amount in {unit}, 0 (no limit) or more, "
                              f"not {str(value)[:40]!r}")
    if not amount:
        return None
    return amount.quantize(Decimal(1)) if amount == amount.to_integral_value() else amount


def limits_of(max_cost: Decimal | None, max_credits: Decimal | None) -> list[Limit]:
    """The limits set: ``max_cost`` in USD, ``max_credits`` in credits."""
    found = []
    if max_cost is not None:
        found.append(Limit("max_cost", max_cost, USD))
    if max_credits is not None:
        found.append(Limit("max_credits", max_credits, CREDIT))
    return found


def currency_problem(found: list[Limit], currency: str | None) -> str | None:
    """The one-line refusal when a limit is set in another unit than the service's quotes."""
    if currency is None:
        return None
    unit = unit_of(currency)
    wrong = [limit for limit in found if limit.unit != unit]
    if not wrong:
        return None
    names = " and ".join(limit.name for limit in wrong)
    units = " and ".join(f"{limit.name} is in {'USD' if limit.unit == USD else 'credits'}"
                         for limit in wrong)
    unset = " and ".join(f"%config Kirin.{limit.name} = 0" for limit in wrong)
    right = {USD: "max_cost", CREDIT: "max_credits"}.get(unit)
    if right is None:
        fix = f"No budget is kept in {currency}: unset {names} ({unset}) to go on"
    elif any(limit.name == right for limit in found):
        fix = f"Unset {names} ({unset}) to go on"
    else:
        fix = f"Set {right} instead (%config Kirin.{right} = ...) and unset {names} ({unset})"
    return (f"budget: the service quotes in {currency}, but {units}, so the price cannot be "
            f"checked against it; nothing was sent. {fix}")


def may_be_billed(job: Job) -> bool:
    """A job that ended without a known cost while its task may exist (a timeout, a lost
    answer, a failed download, or a completed task whose answer named no cost): it
    counts against the budget at its quote or estimate.
    A task the service itself reported failed, or a create it refused, is not billed."""
    if not job.done() or job.cost is not None:
        return False
    if job.status == "completed":
        return True  # done, but the service sent no cost: count its quote
    error = job.error
    if isinstance(error, (TaskFailed, NeverCreated, ValidationError, BudgetExceeded)):
        return False
    refused = isinstance(error, APIError) and error.status_code is not None and \
        400 <= error.status_code < 500 and job.task_id is None
    return not refused and (job.task_id is not None or isinstance(error, OutcomeUnknown))


def _unknown_committed(count: int, limit: Limit) -> str:
    """The refusal when ended jobs that may be billed have no price in the limit's unit."""
    why = ("the service sent no readable cost for them, and there is no quote or earlier "
           "price to count them at" if limit.unit == USD else
           "the service quoted none")
    return (f"budget: {count} job(s) of this session that may be billed have no price "
            f"{'in USD' if limit.unit == USD else 'in credits'} ({why}), so what is "
            f"committed against {limit} is not known; nothing was sent. Unset the limit "
            f"(%config Kirin.{limit.name} = 0) to go on")


class Budget:
    """One session's budget: its limits (read when asked: ``%config Kirin`` may change
    them), the jobs that spend (``registry``) and their prices. ``lock`` is held while a
    job is checked and registered, so two threads cannot both pass."""

    def __init__(self, limits: Callable[[], list[Limit]], registry: JobRegistry,
                 prices: Prices, lock: AbstractContextManager[Any]) -> None:
        self._limits = limits
        self.registry = registry
        self.prices = prices
        self.lock = lock
        self.other_spent = Decimal(0)  # what was paid besides jobs (elements), in USD

    def limits(self) -> list[Limit]:
        return self._limits()

    def spent(self) -> Decimal:
        """What the finished jobs (and elements) cost, as reported by the service."""
        return self.registry.spend() + self.other_spent

    def currency(self, quotes: Iterable[Quote | None] = ()) -> str | None:
        """The currency the service quotes in: from one of ``quotes`` it gave, else from
        any quote it gave this connection; None while it has given none (no precharge
        route, or only failed ones such as COST_CACHE_MISS)."""
        for quote in quotes:
            if quote is not None and quote.source == "service" and quote.known:
                return quote.currency
        return self.prices.currency()

    # -- prices in a unit ----------------------------------------------------------------

    def price_in(self, unit: str) -> PriceOf:
        """A job's price in ``unit``: its quote, else (USD) the estimate from earlier jobs,
        cached per kind for one check, or (credits) the service's last credit quote for
        the same kind of request (earlier jobs' costs are in USD)."""
        if unit != USD:
            def credits_of(req: GenerationRequest, known: Quote | None) -> Decimal | None:
                if known is not None and known.credits is not None:
                    return known.credits
                last = self.prices.last_service_quote(req)
                return last.credits if last is not None else None

            return credits_of
        estimates: dict[tuple[str, str, int], Decimal | None] = {}

        def usd_of(req: GenerationRequest, known: Quote | None) -> Decimal | None:
            if known is not None and known.usd is not None:
                return known.usd
            key = (req.model.name, req.resolution, req.images_expected)
            if key not in estimates:
                estimates[key] = self.prices.estimate_cost(req)
            return estimates[key]

        return usd_of

    def committed(self, unit: str, price_of: PriceOf | None = None
                  ) -> tuple[Decimal, int, int]:
        """What the session has spent or committed in ``unit``; how many jobs in flight
        have no price in it; and how many billed or possibly billed jobs that ended have
        none (no readable cost, no quote, no estimate), which makes the sum unknown."""
        price_of = price_of or self.price_in(unit)
        total = self.spent() if unit == USD else Decimal(0)
        unknown_in_flight = unknown_done = 0
        for job in self.registry.latest_per_task():  # a resumed job replaces its first
            billed = unit != USD and job.cost is not None  # cost in USD: count the quote
            if job.done() and not billed and not may_be_billed(job):
                continue
            price = price_of(job.request, job.quote)
            if price is not None:
                total += price
            elif not job.done():
                unknown_in_flight += 1
            else:  # ended, may be billed, no price: never counted as zero
                unknown_done += 1
        return total, unknown_in_flight, unknown_done

    # -- the checks ----------------------------------------------------------------------

    def check_job(self, request: GenerationRequest, quote: Quote | None) -> None:
        """Refuse a job that could take the session past a limit; nothing is sent then."""
        found = self.limits()
        if not found:
            return
        problem = currency_problem(found, self.currency([quote]))
        if problem:
            raise BudgetExceeded(problem)
        for limit in found:
            self._check_job_against(limit, request, quote)

    def _check_job_against(self, limit: Limit, request: GenerationRequest,
                           quote: Quote | None) -> None:
        price_of = self.price_in(limit.unit)
        spent, unknown_in_flight, unknown_done = self.committed(limit.unit, price_of)
        mine = price_of(request, quote)
        if unknown_done:
            raise BudgetExceeded(_unknown_committed(unknown_done, limit))
        if mine is None and limit.unit != USD:
            raise BudgetExceeded(
                f"budget: the service gave no price in credits for this job (no quote, or "
                f"a failed one), so it cannot be checked against {limit}; nothing was sent. "
                "Try again, or unset the limit (%config Kirin.max_credits = 0)")
        if spent >= limit.amount or (mine is not None and spent + mine > limit.amount):
            said = quote if quote is not None and quote.in_unit(limit.unit) is not None \
                else estimated(mine) if limit.unit == USD else \
                Quote(mine, CREDIT, source="service")
            verb = f"would cost {said.describe()} and pass" if said.known else "would pass"
            raise BudgetExceeded(
                f"budget: this session has spent or committed {limit.show(spent)} of "
                f"{limit}; this job {verb} it. Raise the limit "
                f"(%config Kirin.{limit.name} = ...) to go on")
        if mine is None and unknown_in_flight:
            raise BudgetExceeded(
                "budget: the price of this kind of job is not known yet and a job of "
                f"unknown price is still running ({limit}); start this one when it is done")

    def check_price(self, quote: Quote | None, what: str) -> None:
        """Refuse a paid task that is no job (an element) when a limit is set and its
        price, the service's quote only (nothing to estimate from), is unknown or would
        pass the limit; nothing is sent then."""
        found = self.limits()
        if not found:
            return
        problem = currency_problem(found, self.currency([quote]))
        if problem:
            raise BudgetExceeded(problem)
        for limit in found:
            with self.lock:
                spent, _, unknown_done = self.committed(limit.unit)
            if unknown_done:
                raise BudgetExceeded(_unknown_committed(unknown_done, limit))
            mine = quote.in_unit(limit.unit) if quote is not None else None
            if mine is None:
                raise BudgetExceeded(
                    f"budget: the service gave no price for {what}, so it cannot be checked "
                    f"against {limit}; nothing was sent. Unset the limit "
                    f"(%config Kirin.{limit.name} = 0) to go on")
            if spent + mine > limit.amount:
                raise BudgetExceeded(
                    f"budget: this session has spent or committed {limit.show(spent)} of "
                    f"{limit}; {what} would cost {limit.show(mine)} and pass it. Raise the "
                    f"limit (%config Kirin.{limit.name} = ...) to go on")

    def check_batch(self, requests: list[GenerationRequest], quotes: list[Quote | None],
                    *, what: str = "batch") -> None:
        """Refuse a whole batch (or sweep) before its first create when, at its price, it
        would take the session past a limit; with a limit and no known price, refuse too
        (a batch could run far past it before the first price is seen)."""
        found = self.limits()
        if not found or not requests:
            return
        problem = currency_problem(found, self.currency(quotes))
        if problem:
            raise BudgetExceeded(problem)
        for limit in found:
            total = summed(self._in_unit(limit.unit, requests, quotes))
            if total is None:
                raise BudgetExceeded(
                    f"budget: the price of these jobs is not known yet ({limit});"
                    " run one job of this kind first, or remove the limit; nothing was sent"
                    if limit.unit == USD else
                    f"budget: the service gave no price in credits for some of these jobs "
                    f"({limit}); try again, or remove the limit; nothing was sent")
            assert total.cost is not None
            with self.lock:
                spent, _, unknown_done = self.committed(limit.unit)
            if unknown_done:
                raise BudgetExceeded(_unknown_committed(unknown_done, limit))
            if spent + total.cost > limit.amount:
                raise BudgetExceeded(
                    f"budget: this {what} of {len(requests)} jobs would cost "
                    f"{limit.show(total.cost)} and this session has spent or committed "
                    f"{limit.show(spent)} of {limit}; nothing was sent. Raise the limit "
                    f"(%config Kirin.{limit.name} = ...) or send fewer "
                    f"{'prompts' if what == 'batch' else 'values'}")

    def _in_unit(self, unit: str, requests: list[GenerationRequest],
                 quotes: list[Quote | None]) -> list[Quote | None]:
        """Each job's price in ``unit`` as a quote (None where there is none): in USD its
        quote only (no estimate for a whole batch), in credits its quote, else the
        service's last credit quote for its kind."""
        price_of = self.price_in(unit)
        found: list[Quote | None] = []
        for request, quote in zip(requests, quotes, strict=True):
            price = price_of(request, quote) if unit != USD else \
                quote.usd if quote is not None else None
            found.append(None if price is None else Quote(price, unit))
        return found
