"""What a job will cost, said before it is paid for.

The service's own quote (its precharge route) comes first; where a service has none, the
price is estimated from what jobs of the same model and resolution cost before on that
service (the journal). Either way the user sees where the figure came from.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .request import GenerationRequest

from ..base.money import usd

QuoteSource = Literal["service", "estimate", "unknown"]

USD = "USD"  # the unit of max_cost
CREDIT = "credit"  # the unit of max_credits (the SDKs' precharge answers say "credit")


def unit_of(currency: str) -> str:
    """The unit a currency is budgeted in: ``USD``, ``credit`` (also "credits", any
    case), or the currency as the service wrote it (no budget is kept in that)."""
    text = currency.strip()
    if text.upper() == USD:
        return USD
    if text.lower() in ("credit", "credits"):
        return CREDIT
    return text

_SOURCE_TEXT = {
    "service": "quoted by the service",
    "estimate": "estimated from earlier jobs",
}


@dataclass(frozen=True)
class Quote:
    """The price of one request: ``cost`` is None when neither the service nor the journal
    can tell it yet."""

    cost: Decimal | None
    currency: str = "USD"
    discount: float | None = None
    source: QuoteSource = "unknown"

    def describe(self) -> str:
        """'about $0.28 (quoted by the service)'; 'price not known yet' without a figure."""
        if self.cost is None:
            return "price not known yet"
        amount = usd(self.cost) if unit_of(self.currency) == USD else \
            f"{self.cost} {self.currency}"
        return f"about {amount} ({_SOURCE_TEXT.get(self.source, self.source)})"

    @property
    def known(self) -> bool:
        return self.cost is not None

    @property
    def usd(self) -> Decimal | None:
        """The cost when it is in US dollars (the unit of ``max_cost``), else None."""
        return self.in_unit(USD)

    @property
    def credits(self) -> Decimal | None:
        """The cost when it is in the service's credits (the unit of ``max_credits``)."""
        return self.in_unit(CREDIT)

    def in_unit(self, unit: str) -> Decimal | None:
        """The cost when the quote is in ``unit`` (``USD`` or ``credit``), else None: there
        is no rate between the two."""
        return self.cost if unit_of(self.currency) == unit else None


UNKNOWN = Quote(None)


def price_kind(request: GenerationRequest) -> tuple[object, ...]:
    """What a price depends on (the prompt's words do not): requests of one kind share one
    quote."""
    return (request.model.name, request.resolution, request.n, request.aspect_ratio,
            len(request.images), len(request.elements), request.watermark, request.series)


def estimated(cost: Decimal | None) -> Quote:
    return UNKNOWN if cost is None else Quote(cost, source="estimate")


def summed(quotes: Iterable[Quote | None]) -> Quote | None:
    """The quotes added up, as one ``Quote`` in their one unit (USD or credits); None
    when one of them has no figure or they are in different units."""
    found = list(quotes)
    if not found or any(q is None or q.cost is None for q in found):
        return None
    units = {unit_of(q.currency) for q in found if q is not None}
    if len(units) != 1:
        return None
    total = sum((q.cost for q in found if q is not None and q.cost is not None), Decimal(0))
    sources = {q.source for q in found if q is not None}
    source: QuoteSource = "service" if sources == {"service"} else "estimate"
    first = found[0]
    assert first is not None
    return Quote(total, first.currency, source=source)
