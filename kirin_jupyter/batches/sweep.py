"""``Sweep``: one prompt over every combination of some values, shown as a grid labelled by
those values, with each cell's cost.

A sweep is planned whole before anything is sent: every cell's request is built (a bad
combination is one error naming it), the total is priced (one quote per kind of request)
and, with ``max_cost``, checked as one sum. It then runs as a batch of its cells, so the
engine, the journal, the concurrency limit and ``resume()`` work as for any batch; each
cell's external id is the sweep's name and the cell's number (``sweep-...-00003``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..base.money import usd
from ..base.text import cut, text_table
from ..errors import BudgetExceeded, ValidationError
from ..model.quote import summed
from ..model.request import check_option_names
from .axes import Axis, Cell, expand

if TYPE_CHECKING:
    from ..engine.job import Job, Result
    from ..model.quote import Quote
    from ..model.request import GenerationRequest
    from .batch import Batch, BatchServices, Listener

_NOT_SWEPT = ("external_task_id",)


def new_name() -> str:
    return f"sweep-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"


class SweepPlan:
    """What a sweep will send and what it will cost; nothing has been sent.

    ``axes`` and ``cells`` say what varies; ``requests`` and ``quotes`` are in plan order;
    ``total`` is the sum of the quotes (None while a price is not known); ``over_budget``
    is the budget's one-line refusal, or None. Shown as a table (one row per cell).
    """

    def __init__(self, name: str, axes: list[Axis], cells: list[Cell],
                 requests: list[GenerationRequest], quotes: list[Quote | None],
                 over_budget: str | None) -> None:
        self.name, self.axes, self.cells = name, axes, cells
        self.requests, self.quotes, self.over_budget = requests, quotes, over_budget

    def __len__(self) -> int:
        return len(self.cells)

    @property
    def total(self) -> Decimal | None:
        total = summed(self.quotes)
        return total.usd if total is not None else None

    def price_text(self) -> str:
        """'about $0.16 (quoted by the service)', or why there is no figure."""
        total = summed(self.quotes)  # in USD, or in credits on a service that quotes so
        if total is None:
            return "price not known yet (no quote, and no earlier job of this kind)"
        sources = {q.source for q in self.quotes if q is not None}
        how = "quoted by the service" if sources == {"service"} else \
            "estimated from earlier jobs" if sources == {"estimate"} else "partly estimated"
        return f"{total.describe().split(' (')[0]} ({how})"

    def describe(self, index: int) -> str:
        return self.cells[index].describe(self.axes)

    def __repr__(self) -> str:
        return f"<SweepPlan {self.name} {len(self.cells)} cells, {self.price_text()}>"

    def _repr_html_(self) -> str | None:
        """The plan's table (a row per cell, with its price) in any front end that follows
        the display protocol (marimo, nbconvert, Quarto)."""
        from ..base.renderers import html

        return html("plan_html", self)

    def __str__(self) -> str:
        return plan_text(self)


def make_plan(services: BatchServices, prompt: Any, options: dict[str, Any], *,
              name: str | None = None,
              fill: Callable[[str], str] | None = None) -> SweepPlan:
    """Expand, build every cell's request, and price the whole; nothing is sent.

    ``fill`` turns each cell's prompt into the one sent (the magic fills ``{name}`` from
    the notebook's variables there, after the alternatives are chosen). Raises
    ``ValidationError`` naming the first combination that breaks a rule.
    """
    from .journal import item_external_id
    from .setup import check_name

    check_option_names(options)
    for option in _NOT_SWEPT:
        if options.get(option):
            raise ValidationError("a sweep names its cells itself (NAME-00001, ...): give "
                                  "name= instead of external_task_id")
    name = check_name(name) if name is not None else new_name()
    axes, cells = expand(prompt, {k: v for k, v in options.items() if v is not None},
                         template=fill is not None,
                         max_cells=services.max_sweep_cells)
    if not axes:
        raise ValidationError("nothing to sweep: give an option a list of values "
                              "(model=['omni', 'v3']) or the prompt alternatives ('a "
                              "{red|blue} fox')")
    requests = []
    for cell in cells:
        text = fill(cell.prompt) if fill is not None else cell.prompt
        try:
            requests.append(services.build(text, **cell.options,
                                         external_task_id=item_external_id(name, cell.index)))
        except ValidationError as exc:
            raise ValidationError(f"sweep cell {cell.index + 1} "
                                  f"({cell.describe(axes)}): {exc}") from None
    quotes = services.prices.per_kind(requests)  # one quote per kind, asked once
    try:
        services.budget.check_batch(requests, quotes, what="sweep")  # checked once
        over = None
    except BudgetExceeded as exc:
        over = str(exc)
    return SweepPlan(name, axes, cells, requests, quotes, over)


def plan_and_start(services: BatchServices, prompt: Any, options: dict[str, Any], *,
                   name: str | None = None, concurrency: int | None = None) -> Sweep:
    """``Client.sweep``: a bad ``concurrency`` is refused before the plan asks the service
    for a price (no request for input that cannot run)."""
    from .setup import _checked_concurrency

    _checked_concurrency(concurrency)
    plan = make_plan(services, prompt, options, name=name)  # quoted and checked, just now
    return start(services, plan, concurrency=concurrency, checked=True)


def start(services: BatchServices, plan: SweepPlan, *, concurrency: int | None = None,
          checked: bool = False) -> Sweep:
    """Run a plan: its quotes are used as they are (one per kind, asked once by the
    plan); the budget is checked for the whole sweep again, unless ``checked``: the plan
    was made a moment ago and its ``over_budget`` holds. Then its cells go out as one
    batch. ``BudgetExceeded`` (nothing sent) when it would pass the budget."""
    from .setup import open_built, stored_inputs

    if checked and plan.over_budget is not None:
        raise BudgetExceeded(plan.over_budget)
    if not checked:  # a plan shown earlier (--dry-run, plan_sweep): money may have moved
        services.budget.check_batch(plan.requests, plan.quotes, what="sweep")
    items = [{"prompt": request.prompt, **cell.options}
             for cell, request in zip(plan.cells, plan.requests, strict=True)]
    batch = open_built(services, plan.name, plan.requests, concurrency=concurrency,
                       inputs=stored_inputs(items, {}), priced=plan.quotes)
    services.keep(batch)
    return Sweep(plan, batch)


class Sweep:
    """A running (or finished) sweep: ``jobs``, ``wait()``, ``results``, ``failed``,
    ``axes``, ``cost``, ``price``, ``records()``; shown as a grid of its cells."""

    def __init__(self, plan: SweepPlan, batch: Batch) -> None:
        self.plan = plan
        self.batch = batch
        self.name = plan.name

    def __len__(self) -> int:
        return len(self.plan.cells)

    def __repr__(self) -> str:
        counts = self.counts()
        return (f"<Sweep {self.name!r} {len(self)} cells over "
                f"{', '.join(a.title for a in self.plan.axes)}: {counts['done']} done, "
                f"{counts['failed']} failed, {counts['running'] + counts['queued']} to go>")

    def _repr_html_(self) -> str | None:
        """The card (the cells' states while it runs, the grid of images once done) in
        any front end that follows the display protocol (marimo, nbconvert, Quarto)."""
        from ..base.renderers import html

        return html("sweep_html", self)

    def _display_(self) -> Any:
        """marimo's hook (it wins there over ``_repr_html_``; Jupyter never calls it): the
        live card, one anywidget that moves while the sweep runs and then becomes the
        finished card in place; the plain repr where no display layer is loaded."""
        from ..base.renderers import render

        return render("sweep_live", self, fallback=lambda: repr(self))

    @property
    def axes(self) -> dict[str, list[Any]]:
        """What varies: each axis's name (an option, or a prompt group as typed) and its
        values, in plan order (the last axis is the grid's columns)."""
        return {axis.name: list(axis.values) for axis in self.plan.axes}

    @property
    def cells(self) -> list[Cell]:
        return self.plan.cells

    @property
    def jobs(self) -> list[Job | None]:
        """Each cell's job in plan order (None until its create is sent)."""
        return list(self.batch.jobs)

    @property
    def results(self) -> list[Result | None]:
        return self.batch.results

    @property
    def failed(self) -> list[tuple[int, str, str]]:
        """(index, the cell's values, reason) of every cell that failed."""
        return [(index, self.plan.describe(index), reason)
                for index, _, reason in self.batch.failed]

    @property
    def cost(self) -> Decimal:
        """What the cells done so far cost, as the service reported it."""
        return self.batch.cost

    @property
    def price(self) -> Decimal | None:
        """The whole sweep's price as quoted before it started (None if not known)."""
        return self.plan.total

    def state(self, index: int) -> str:
        """'queued', 'running', 'done' or 'failed' for cell ``index``."""
        return self.batch.state(index)

    def counts(self) -> dict[str, int]:
        return self.batch.counts()

    def done(self) -> bool:
        return self.batch.done()

    def wait(self, timeout: float | None = None) -> list[Result | None]:
        """Block until every cell is done or failed; the results in plan order (None for a
        failed cell: ``failed`` says why). ``TimeoutError`` after ``timeout`` seconds (the
        sweep goes on)."""
        return self.batch.wait(timeout)

    def __await__(self) -> Any:
        return self.batch.__await__()

    def stop(self) -> None:
        """Send no more creates (cells at the service are followed to the end)."""
        self.batch.stop()

    def add_listener(self, listener: Callable[[Sweep], None]) -> None:
        """``listener(sweep)`` on every change and tick (from the engine thread)."""
        relay: Listener = lambda _batch: listener(self)  # noqa: E731
        self.batch.add_listener(relay)

    def records(self) -> list[dict[str, Any]]:
        """One dict per cell: its value on each axis, then the batch's record."""
        rows = []
        for cell, record in zip(self.plan.cells, self.batch.records(), strict=True):
            values = {axis.name: label for axis, label in
                      zip(self.plan.axes, cell.labels, strict=True)}
            rows.append({**values, **record})
        return rows


def plan_rows(plan: SweepPlan) -> list[list[str]]:
    rows = []
    for cell, quote in zip(plan.cells, plan.quotes, strict=True):
        price = usd(quote.cost) if quote is not None and quote.cost is not None else "?"
        rows.append([str(cell.index + 1), *cell.labels, price])
    return rows


def plan_note(plan: SweepPlan) -> str:
    note = f"total: {plan.price_text()} for {len(plan)} cells"
    if plan.over_budget:
        note += f"; over budget: {plan.over_budget}"
    return note


def plan_text(plan: SweepPlan, width: int | None = None) -> str:
    """The plan as an aligned table (one row per cell: its values and price) and the
    total: what ``--dry-run`` prints."""
    headers = ["#", *(cut(a.title, 24) for a in plan.axes), "price"]
    table = text_table(headers, plan_rows(plan), width=width or 100)
    return f"Kirin sweep plan {plan.name}\n{table}\n{plan_note(plan)}"
