"""Payments, whichever provider moved the money: one schema for all of them.

CloudEvent types: `payment.succeeded`, `payment.failed`, `payment.refunded`, `payment.disputed`,
`subscription.created`, `subscription.updated`, `subscription.canceled`.

Providers: `stripe`, `paypal`, `square`. Amounts are always `Money` in the currency's minor unit;
PayPal's decimal strings are converted with `money_from_decimal`.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from ingest.schemas.base import DomainModel, Money

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
