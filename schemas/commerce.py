"""Orders, whichever shop platform took them: one schema for all of them.

CloudEvent types: `commerce.order.created`, `commerce.order.paid`, `commerce.order.cancelled`,
`commerce.order.fulfilled`, `commerce.order.refunded`. Events are keyed by order id so that an
order's lifecycle stays in order.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from schemas.base import DomainModel, Money

# ISO 4217 minor units for the currencies whose exponent is not 2 (the list maintained by SIX,
# the ISO 4217 agency). Every other code uses 2.
_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(
        (
            *("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG"),
            *("RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"),
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}
_DECIMAL = re.compile(r"^\d{1,18}(\.\d{1,8})?$")


def currency_exponent(currency: str) -> int:
    """Digits after the decimal point in `currency` (JPY 0, USD 2, KWD 3)."""
    return _EXPONENTS.get(currency.upper(), 2)


def money_from_decimal(amount: str | int, currency: str) -> Money:
    """`"199.00"` USD → 19900; `"1500"` JPY → 1500; `"1.250"` KWD → 1250.

    Exact or nothing: an amount with more significant decimals than the currency has (`"0.005"`
    USD) raises ValueError rather than being rounded, because a rounded total would be a wrong
    one. Trailing zeros are fine (`"1500.00"` JPY is 1500).
    """
    code = currency.upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise ValueError("currency is not an ISO 4217 code")
    text = str(amount) if isinstance(amount, int) and not isinstance(amount, bool) else amount
    if not isinstance(text, str) or not _DECIMAL.match(text.strip()):
        raise ValueError("amount is not a non-negative decimal string")
    minor = Decimal(text.strip()).scaleb(currency_exponent(code))
    if minor != minor.to_integral_value():
        raise ValueError(f"amount has more decimals than {code} allows")
    return Money(amount_minor=int(minor), currency=code)


class OrderEvent(DomainModel):
    """An order as it stands after the change the event reports."""

    event_type: ClassVar[str]
    """Set by each subclass."""
    provider: str
    """`shopify`, later other platforms."""
    order_id: str
    """The platform's id of the order (Shopify's numeric `id`, as a string)."""
    order_number: str | None = None
    """What the merchant and customer see (Shopify's `name`, e.g. `#1001`)."""
    total: Money
    """What the customer pays, taxes and shipping included (Shopify's `total_price`)."""
    customer_id: str | None = None
    customer_email: str | None = None
    financial_status: str | None = None
    fulfillment_status: str | None = None
    occurred_at: datetime


class OrderCreated(OrderEvent):
    event_type: ClassVar[str] = "commerce.order.created"


class OrderPaid(OrderEvent):
    event_type: ClassVar[str] = "commerce.order.paid"


class OrderCancelled(OrderEvent):
    event_type: ClassVar[str] = "commerce.order.cancelled"
    cancel_reason: str | None = None


class OrderFulfilled(OrderEvent):
    event_type: ClassVar[str] = "commerce.order.fulfilled"


class OrderRefunded(DomainModel):
    """One refund against an order; `amount` is what this refund returned, when it moved money
    (a refund that only restocks items has none)."""

    event_type: ClassVar[str] = "commerce.order.refunded"
    provider: str
    order_id: str
    refund_id: str
    amount: Money | None = None
    note: str | None = None
    occurred_at: datetime
