"""Messaging (SMS, MMS, WhatsApp…) and voice call progress, whichever provider carried them.

CloudEvent types: `messaging.message.<status>` for a message's lifecycle (`queued`, `sent`,
`delivered`, `undelivered`, `failed`, `received`, `read`) and `messaging.call.status` for every
call progress report (the status is a field: calls report many states and consumers usually want
them all, in order, on one key).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from ingest.schemas.base import DomainModel


class MessageEvent(DomainModel):
    """One status report about one message.

    `sender` and `recipient` are the provider's addresses as sent (`+14155550100`,
    `whatsapp:+14155550100`). `occurred_at` is the provider's time when it reports one, otherwise
    when the report was received (Twilio's message callbacks carry no time).
    """

    event_type: ClassVar[str]
    """Set by each status's subclass."""
    provider: str
    """`twilio`, later other carriers."""
    message_id: str
    """The provider's message id (Twilio's `MessageSid`)."""
    account_id: str | None = None
    sender: str | None = None
    recipient: str | None = None
    status: str
    """The provider's status word, unchanged."""
    body: str | None = None
    """The text, for received messages (status reports do not repeat it)."""
    media_count: int | None = None
    segments: int | None = None
    error_code: str | None = None
    """The provider's error code for `failed` and `undelivered` (Twilio's `ErrorCode`)."""
    error_message: str | None = None
    occurred_at: datetime


class MessageQueued(MessageEvent):
    event_type: ClassVar[str] = "messaging.message.queued"


class MessageSent(MessageEvent):
    event_type: ClassVar[str] = "messaging.message.sent"


class MessageDelivered(MessageEvent):
    event_type: ClassVar[str] = "messaging.message.delivered"


class MessageUndelivered(MessageEvent):
    event_type: ClassVar[str] = "messaging.message.undelivered"


class MessageFailed(MessageEvent):
    event_type: ClassVar[str] = "messaging.message.failed"


class MessageReceived(MessageEvent):
    event_type: ClassVar[str] = "messaging.message.received"


class MessageRead(MessageEvent):
    event_type: ClassVar[str] = "messaging.message.read"


class CallStatus(DomainModel):
    """One progress report about one call (`initiated`, `ringing`, `in-progress`, `completed`,
    `busy`, `no-answer`, `failed`, `canceled`…)."""

    event_type: ClassVar[str] = "messaging.call.status"
    provider: str
    call_id: str
    """The provider's call id (Twilio's `CallSid`)."""
    account_id: str | None = None
    sender: str | None = None
    recipient: str | None = None
    status: str
    direction: str | None = None
    """`inbound`, `outbound-api`, `outbound-dial`…, as the provider says."""
    duration_seconds: int | None = None
    """Set once the call has ended."""
    sequence_number: int | None = None
    """The provider's order of reports for this call, when it numbers them."""
    error_code: str | None = None
    occurred_at: datetime
