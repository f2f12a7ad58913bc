"""Payments, whichever provider moved the money: one schema for all of them.

CloudEvent types: `payment.succeeded`, `payment.failed`, `payment.refunded`, `payment.disputed`,
`subscription.created`, `subscription.updated`, `subscription.canceled`.

Providers: `stripe`, `paypal`, `square`. Amounts are always `Money` in the currency's minor unit;
PayPal's decimal strings are converted with `money_from_decimal`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import ClassVar

from pydantic import Field

from schemas.base import DomainModel, Money

# -- minor units ---------------------------------------------------------------------

# ISO 4217 minor-unit exponents that differ from the usual 2 (ISO 4217 list one, "Minor unit"
# column). Other codes have two decimals, except those ISO lists with no minor unit at all.
_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(
        (
            "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
            "VND", "VUV", "XAF", "XOF", "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}  # fmt: skip
# Metals, SDR, bond-market units, testing and "no currency" codes: ISO gives them no minor unit
# ("N.A."), so no amount of them can be expressed as minor units; refuse rather than guess.
_NO_MINOR_UNIT = frozenset(
    ("XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX")
)

_CURRENCY = re.compile(r"[A-Z]{3}")
# Plain decimal notation only (PayPal's `value` pattern, without its minus sign): no exponent
# ("1e9999" would be a cheap way to make us build a huge integer), no sign, no spaces.
_DECIMAL = re.compile(r"(?:[0-9]+|[0-9]*\.[0-9]+)")
_MAX_DECIMAL_LENGTH = 32  # PayPal's documented maximum length for `value`


def currency_exponent(currency: str) -> int:
    """Digits after the decimal point in `currency`'s minor unit (JPY 0, USD 2, KWD 3)."""
    if not _CURRENCY.fullmatch(currency):
        raise ValueError(f"{currency!r} is not an upper-case ISO 4217 code")
    if currency in _NO_MINOR_UNIT:
        raise ValueError(f"{currency} has no minor unit in ISO 4217")
    return _EXPONENTS.get(currency, 2)


def to_minor_units(value: str, currency: str) -> int:
    """A decimal amount such as PayPal's `"10.99"` as an integer count of minor units.

    Exact or an error, never rounded: `"10.999"` USD cannot be a whole number of cents, and
    silently rounding money is how ledgers drift. Trailing zeros beyond the exponent are fine
    (`"100.00"` JPY is 100 yen).
    """
    exponent = currency_exponent(currency)
    if len(value) > _MAX_DECIMAL_LENGTH or not _DECIMAL.fullmatch(value):
        raise ValueError(f"{value!r} is not a non-negative plain decimal amount")
    # Integer arithmetic on the digits: Decimal would round to its context's 28 digits.
    whole, _, fraction = value.partition(".")
    fraction = fraction.rstrip("0")
    if len(fraction) > exponent:
        raise ValueError(f"{value!r} has more decimals than {currency} allows ({exponent})")
    scale: int = 10**exponent
    return int(whole or "0") * scale + int(fraction.ljust(exponent, "0") or "0")


def money_from_decimal(value: str, currency: str) -> Money:
    """`Money` from a decimal string and an ISO 4217 code (PayPal's `{value, currency_code}`)."""
    return Money(amount_minor=to_minor_units(value, currency), currency=currency)


# -- payments ------------------------------------------------------------------------


class PaymentEvent(DomainModel):
    provider: str
    """Who processed the payment: `stripe`, `paypal`, `square`."""
    payment_id: str
    """The provider's id of the payment: a Stripe PaymentIntent (or Charge when there is no
    intent), a PayPal capture, a Square payment."""
    amount: Money
    customer_id: str | None = None
    occurred_at: datetime
    metadata: dict[str, str] = Field(default_factory=dict)


class PaymentSucceeded(PaymentEvent):
    event_type: ClassVar[str] = "payment.succeeded"
    charge_id: str | None = None
    order_id: str | None = None
    """The provider's order the payment belongs to (PayPal order, Square order), if any."""


class PaymentFailed(PaymentEvent):
    event_type: ClassVar[str] = "payment.failed"
    failure_code: str | None = None
    failure_message: str | None = None
    decline_code: str | None = None
    order_id: str | None = None


class PaymentRefunded(PaymentEvent):
    """`amount` is the total refunded so far where the provider reports it (Stripe's
    `amount_refunded`, PayPal's `total_refunded_amount`); Square reports each refund on its own,
    so there it is this refund's amount. `refund_amount` is always this refund alone, when the
    event names one refund.

    `fully_refunded` is `None` when the event does not say: PayPal's and Square's refund events
    describe the refund, not the payment it came from.
    """

    event_type: ClassVar[str] = "payment.refunded"
    charge_id: str | None = None
    amount_captured: Money | None = None
    fully_refunded: bool | None = None
    refund_id: str | None = None
    refund_amount: Money | None = None
    reason: str | None = None


class PaymentDisputed(PaymentEvent):
    """A customer (or their bank) disputes a payment: a chargeback, an inquiry, a claim.

    `payment_id` is the disputed payment, so the dispute follows that payment's other events on
    the same partition; `amount` is the disputed amount.
    """

    event_type: ClassVar[str] = "payment.disputed"
    dispute_id: str
    reason: str | None = None
    """The provider's reason code, as sent (`fraudulent`, `MERCHANDISE_OR_SERVICE_NOT_RECEIVED`,
    `NO_KNOWLEDGE`…): the vocabularies differ and mapping them would lose information."""
    status: str | None = None
    """The provider's dispute status, as sent (`needs_response`, `OPEN`, `EVIDENCE_REQUIRED`…)."""
    charge_id: str | None = None
    evidence_due_by: datetime | None = None


# -- subscriptions --------------------------------------------------------------------


class SubscriptionEvent(DomainModel):
    event_type: ClassVar[str]
    provider: str
    subscription_id: str
    customer_id: str | None = None
    """Stripe customer, PayPal payer id, Square customer."""
    status: str
    """The provider's status, as sent (`active`, `ACTIVE`, `APPROVAL_PENDING`, `CANCELED`…)."""
    plan_id: str | None = None
    """What is subscribed to: a Stripe price, a PayPal plan, a Square plan variation."""
    amount: Money | None = None
    """Price per billing interval, when the event carries it (Stripe's price, Square's price
    override); PayPal's subscription events do not, the price lives on the plan."""
    interval: str | None = None
    """`day`, `week`, `month` or `year`, when the event carries it."""
    interval_count: int | None = None
    current_period_end: datetime | None = None
    """When the paid-for period ends (PayPal: the next billing time; Square: the end of the
    charged-through date in the subscription's time zone)."""
    cancel_at_period_end: bool | None = None
    canceled_at: datetime | None = None
    occurred_at: datetime
    metadata: dict[str, str] = Field(default_factory=dict)


class SubscriptionCreated(SubscriptionEvent):
    event_type: ClassVar[str] = "subscription.created"


class SubscriptionUpdated(SubscriptionEvent):
    event_type: ClassVar[str] = "subscription.updated"


class SubscriptionCanceled(SubscriptionEvent):
    event_type: ClassVar[str] = "subscription.canceled"
