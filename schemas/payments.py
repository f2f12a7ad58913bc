"""Payments, whichever provider moved the money: one schema for all of them.

CloudEvent types: `payment.succeeded`, `payment.failed`, `payment.refunded`.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from schemas.base import DomainModel, Money


class PaymentEvent(DomainModel):
    provider: str
    """Who processed the payment: `stripe`, later `paypal`, `square`."""
    payment_id: str
    """The provider's id of the payment (a Stripe PaymentIntent id, for instance)."""
    amount: Money
    customer_id: str | None = None
    occurred_at: datetime
    metadata: dict[str, str] = Field(default_factory=dict)


class PaymentSucceeded(PaymentEvent):
    event_type: ClassVar[str] = "payment.succeeded"
    charge_id: str | None = None


class PaymentFailed(PaymentEvent):
    event_type: ClassVar[str] = "payment.failed"
    failure_code: str | None = None
    failure_message: str | None = None
    decline_code: str | None = None


class PaymentRefunded(PaymentEvent):
    """`amount` is the total refunded so far; `fully_refunded` says whether that is all of it."""

    event_type: ClassVar[str] = "payment.refunded"
    charge_id: str | None = None
    amount_captured: Money | None = None
    fully_refunded: bool
