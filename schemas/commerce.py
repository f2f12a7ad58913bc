"""Orders, whichever shop platform took them: one schema for all of them.

CloudEvent types: `commerce.order.created`, `commerce.order.paid`, `commerce.order.cancelled`,
`commerce.order.fulfilled`, `commerce.order.refunded`. Events are keyed by order id so that an
order's lifecycle stays in order.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from ingest.schemas.base import DomainModel, Money


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
