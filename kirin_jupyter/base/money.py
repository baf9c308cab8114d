"""The one way an amount of money is written: ``usd(Decimal("0"))`` is "$0.00", never "$0"
beside "$0.04". Every card, table, message and listing that shows dollars goes through it.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

CENTS = Decimal("0.01")


def amount(value: Any) -> str:
    """The figure alone: at least two decimals ("0.00", "1.20"), more only when the amount
    has them ("0.035"); anything that is not a finite number is written as given."""
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return str(value)
    if not number.is_finite():
        return str(value)
    # Trailing zeros past the cents go ("0.0350" -> "0.035"); fewer than two decimals are
    # filled up to the cents ("0" -> "0.00", "1.2" -> "1.20").
    number = number.normalize()
    if _decimals(number) < 2:
        number = number.quantize(CENTS)
    return f"{number:f}"


def _decimals(number: Decimal) -> int:
    exponent = number.as_tuple().exponent
    return -exponent if isinstance(exponent, int) else 0


def usd(value: Any) -> str:
    """'$0.00', '$0.04', '$1.20', '$0.035'."""
    return f"${amount(value)}"
