"""What `okta` sends, simulated for `ingest send`, the benchmarks and the tests: sample bodies with
fresh ids, signed as the vendor signs them. The service never imports this to receive."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from ingest.handlers.okta import SESSION_END, OktaHandler
from ingest.handlers.schemes.credentials import TokenInHeader
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


def sample_event(
    event_type: str, *, published: str | None = None, result: str = "SUCCESS"
) -> dict[str, Any]:
    """One System Log event, after the example in Okta's event hook documentation."""
    user_id = f"00u{secrets.token_hex(8)}"
    event: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "published": published
        or datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "eventType": event_type,
        "version": "0",
        "displayMessage": "User login to Okta",
        "severity": "INFO",
        "client": {
            "zone": "OFF_NETWORK",
            "device": "Computer",
            "userAgent": {
                "os": "Mac OS X",
                "browser": "CHROME",
                "rawUserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) "
                "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 Safari/537.36",
            },
            "ipAddress": "12.97.85.90",
        },
        "actor": {
            "id": user_id,
            "type": "User",
            "alternateId": "jane.doe@example.com",
            "displayName": "Jane Doe",
        },
        "outcome": {"result": result},
        "transaction": {"type": "WEB", "id": secrets.token_urlsafe(20)},
        "authenticationContext": {
            "authenticationStep": 0,
            "externalSessionId": f"102{secrets.token_urlsafe(18)}",
        },
        "target": None,
    }
    if result == "FAILURE":
        event["outcome"]["reason"] = "INVALID_CREDENTIALS"
    if event_type.startswith(("user.lifecycle.", "user.account.", "group.")):
        # Administrative events: an admin acts on a user (and a group).
        event["displayMessage"] = {
            "user.lifecycle.create": "Create Okta user",
            "user.account.update_profile": "Update user profile for Okta",
            "group.user_membership.add": "Add user to group membership",
        }.get(event_type, "Delete Okta user")
        event["actor"] = {
            "id": f"00u{secrets.token_hex(8)}",
            "type": "User",
            "alternateId": "admin@example.com",
            "displayName": "Example Admin",
        }
        event["target"] = [
            {
                "id": user_id,
                "type": "User",
                "alternateId": "jane.doe@example.com",
                "displayName": "Jane Doe",
            }
        ]
        if event_type.startswith("group."):
            event["target"].append(
                {
                    "id": f"00g{secrets.token_hex(8)}",
                    "type": "UserGroup",
                    "alternateId": "unknown",
                    "displayName": "Engineering",
                }
            )
    elif event_type == SESSION_END:
        event["displayMessage"] = "User logout from Okta"
    return event


class OktaSimulator(Simulator[OktaHandler]):
    vendor: ClassVar[str] = OktaHandler.vendor
    sample_types: ClassVar[tuple[str, ...]] = (
        "user.session.start",
        "user.session.end",
        "user.lifecycle.create",
        "user.account.update_profile",
        "user.lifecycle.delete.initiated",
        "group.user_membership.add",
    )

    def sample(self, event_type: str | None) -> bytes:
        event_type = event_type or self.sample_types[0]
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        body = {
            "eventType": "com.okta.event_hook",
            "eventTypeVersion": "1.0",
            "cloudEventsVersion": "0.1",
            "contentType": "application/json",
            "eventId": str(uuid.uuid4()),
            "eventTime": now,
            "source": "https://example.okta.com/api/v1/eventHooks/whoql0HfiLGPWc8Jx0g3",
            "data": {"events": [sample_event(event_type, published=now)]},
        }
        return json.dumps(body, indent=2).encode()

    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        options = (
            self.handler.options(context.source, TokenInHeader) if context.source.options else None
        )
        token = context.secret or (options.tokens[0] if options else "")
        header = options.header if options else "authorization"
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            header.title(): token,
        }
        return SignedRequest(headers=headers, body=body, url=context.url)
