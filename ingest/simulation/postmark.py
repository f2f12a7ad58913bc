"""What `postmark` sends, simulated for `ingest send`, the benchmarks and the tests: sample bodies
with fresh ids, signed as the vendor signs them. The service never imports this to receive."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from ingest.handlers.postmark import PostmarkHandler
from ingest.handlers.schemes.credentials import BasicCredentials
from ingest.simulation.base import SignedRequest, SigningContext, Simulator
from ingest.simulation.credentials import basic_authorization


class PostmarkSimulator(Simulator[PostmarkHandler]):
    vendor: ClassVar[str] = PostmarkHandler.vendor
    sample_types: ClassVar[tuple[str, ...]] = (
        "Delivery",
        "Bounce",
        "SpamComplaint",
        "Open",
        "Click",
        "SubscriptionChange",
    )

    def sample(self, event_type: str | None) -> bytes:
        """Postmark's documented example record for the type, with fresh ids."""
        record_type = event_type or self.sample_types[0]
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        message_id = str(uuid.uuid4())
        metadata = {"a_key": "a_value", "b_key": "b_value"}
        client = {"Name": "Chrome 35.0.1916.153", "Company": "Google", "Family": "Chrome"}
        os_info = {"Name": "OS X 10.7 Lion", "Company": "Apple Computer, Inc.", "Family": "OS X"}
        geo = {"CountryISOCode": "RS", "Country": "Serbia", "City": "Novi Sad", "IP": "8.8.8.8"}
        user_agent = (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_5) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/35.0.1916.153 Safari/537.36"
        )
        bounce_like = {
            "ID": secrets.randbelow(10**15),
            "TypeCode": 1,
            "Tag": "Test",
            "MessageID": message_id,
            "Metadata": metadata,
            "ServerID": 23,
            "MessageStream": "outbound",
            "Email": "john@example.com",
            "From": "sender@example.com",
            "BouncedAt": now,
            "DumpAvailable": True,
            "Inactive": True,
            "CanActivate": True,
            "Subject": "Test subject",
            "Content": "Test content",
        }
        records: dict[str, dict[str, Any]] = {
            "Delivery": {
                "MessageID": message_id,
                "Recipient": "john@example.com",
                "DeliveredAt": now,
                "Details": "Test delivery webhook details",
                "Tag": "welcome-email",
                "ServerID": 23,
                "Metadata": metadata,
                "MessageStream": "outbound",
            },
            "Bounce": {
                **bounce_like,
                "Type": "HardBounce",
                "Name": "Hard bounce",
                "Description": (
                    "The server was unable to deliver your message "
                    "(ex: unknown user, mailbox not found)."
                ),
                "Details": "Test bounce details",
            },
            "SpamComplaint": {
                **bounce_like,
                "Type": "SpamComplaint",
                "TypeCode": 512,
                "Name": "Spam complaint",
                "Description": "The subscriber explicitly marked this message as spam.",
                "Details": "Test spam complaint details",
            },
            "Open": {
                "FirstOpen": True,
                "Client": client,
                "OS": os_info,
                "Platform": "WebMail",
                "UserAgent": user_agent,
                "ReadSeconds": 5,
                "Geo": geo,
                "MessageID": message_id,
                "Metadata": metadata,
                "ReceivedAt": now,
                "Tag": "welcome-email",
                "Recipient": "john@example.com",
                "MessageStream": "outbound",
            },
            "Click": {
                "ClickLocation": "HTML",
                "Client": client,
                "OS": os_info,
                "Platform": "Desktop",
                "UserAgent": user_agent,
                "OriginalLink": "https://example.com",
                "Geo": geo,
                "MessageID": message_id,
                "Metadata": metadata,
                "ReceivedAt": now,
                "Tag": "welcome-email",
                "Recipient": "john@example.com",
                "MessageStream": "outbound",
            },
            "SubscriptionChange": {
                "MessageID": message_id,
                "ServerID": 23,
                "MessageStream": "outbound",
                "ChangedAt": now,
                "Recipient": "bounced-address@wildbit.com",
                "Origin": "Recipient",
                "SuppressSending": True,
                "SuppressionReason": "ManualSuppression",
                "Tag": "my-tag",
                "Metadata": metadata,
            },
        }
        record = {"RecordType": record_type, **records.get(record_type, records["Delivery"])}
        return json.dumps(record, indent=2).encode()

    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        options = self.handler.options(context.source, BasicCredentials)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Postmark",
            "Authorization": basic_authorization(options.basic_auth[0]),
        }
        return SignedRequest(headers=headers, body=body, url=context.url)
