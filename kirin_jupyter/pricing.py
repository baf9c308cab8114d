"""What a job will cost, said before it is paid for.

The service's own quote (its precharge route) comes first; where a service has none, the
price is estimated from what jobs of the same model and resolution cost before on that
service (the journal). Either way the user sees where the figure came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

QuoteSource = Literal["service", "estimate", "unknown"]

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
        amount = f"${self.cost}" if self.currency.upper() == "USD" else \
            f"{self.cost} {self.currency}"
        return f"about {amount} ({_SOURCE_TEXT.get(self.source, self.source)})"

    @property
    def known(self) -> bool:
        return self.cost is not None

    @property
    def usd(self) -> Decimal | None:
        """The cost when it is in US dollars (the unit of ``max_cost``), else None."""
        return self.cost if self.currency.upper() == "USD" else None


UNKNOWN = Quote(None)


def estimated(cost: Decimal | None) -> Quote:
    return UNKNOWN if cost is None else Quote(cost, source="estimate")
