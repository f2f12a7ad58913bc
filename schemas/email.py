"""Email delivery and engagement, whichever provider sent the mail: one schema for all of them.

CloudEvent types: `email.delivered`, `email.bounced`, `email.dropped`, `email.deferred`,
`email.complained`, `email.opened`, `email.clicked`, `email.unsubscribed`.

Every event is about one recipient of one message: providers that report several recipients in
one notification (Amazon SES) produce one event per recipient, so a consumer keyed on the
recipient (suppression lists, engagement scores) never has to unpack a list.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from ingest.schemas.base import DomainModel

BounceType = Literal["hard", "soft", "undetermined"]


class EmailEvent(DomainModel):
    event_type: ClassVar[str]
    """Set by each concrete event: the CloudEvent type."""

    provider: str
    """Who sent the mail: `sendgrid`, `postmark`, `ses`."""
    message_id: str | None = None
    """The provider's id of the message (SendGrid `sg_message_id`, Postmark `MessageID`, SES
    `mail.messageId`); None where the provider reports none (a manual suppression)."""
    recipient: str
    occurred_at: datetime
    event_id: str | None = None
    """The provider's id of this event where it has one (SendGrid `sg_event_id`, SES
    `feedbackId`, Postmark bounce `ID`)."""
    tags: list[str] = Field(default_factory=list)
    """SendGrid categories, Postmark `Tag`, SES message tags as `name:value`."""
    metadata: dict[str, str] = Field(default_factory=dict)
    """Custom arguments the sender attached (SendGrid unique args, Postmark `Metadata`)."""


class EmailDelivered(EmailEvent):
    event_type: ClassVar[str] = "email.delivered"
    smtp_response: str | None = None


class EmailBounced(EmailEvent):
    """`bounce_type` is what consumers act on: `hard` means stop sending to this address."""

    event_type: ClassVar[str] = "email.bounced"
    bounce_type: BounceType
    vendor_bounce_type: str | None = None
    """The provider's own classification, unchanged (`bounce`/`blocked`, `HardBounce`,
    `Permanent/General`…)."""
    reason: str | None = None
    diagnostic: str | None = None
    """The SMTP status or diagnostic code the receiving server gave, where reported."""


class EmailDropped(EmailEvent):
    """The provider refused to send at all (suppressed address, invalid, rejected content)."""

    event_type: ClassVar[str] = "email.dropped"
    reason: str | None = None


class EmailDeferred(EmailEvent):
    """A temporary failure; the provider keeps retrying."""

    event_type: ClassVar[str] = "email.deferred"
    reason: str | None = None
    diagnostic: str | None = None
    attempt: int | None = None


class EmailComplained(EmailEvent):
    event_type: ClassVar[str] = "email.complained"
    feedback_type: str | None = None
    """The ARF feedback type where reported (`abuse`, `fraud`…)."""


class EmailOpened(EmailEvent):
    event_type: ClassVar[str] = "email.opened"
    user_agent: str | None = None
    ip: str | None = None


class EmailClicked(EmailEvent):
    event_type: ClassVar[str] = "email.clicked"
    url: str
    user_agent: str | None = None
    ip: str | None = None


class EmailUnsubscribed(EmailEvent):
    event_type: ClassVar[str] = "email.unsubscribed"
    group: str | None = None
    """The unsubscribe group / list left (SendGrid `asm_group_id`); None for everything."""
