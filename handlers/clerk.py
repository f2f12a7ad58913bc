"""Clerk: Svix-signed webhooks (`svix-id`, `svix-timestamp`, `svix-signature`), i.e. Standard
Webhooks with Svix's header names, verified by `StandardWebhooksHandler`; this module adds Clerk's
payloads.

A Clerk event is `{"type", "object": "event", "data", "timestamp", "instance_id",
"event_attributes": {"http_request": {"client_ip", "user_agent"}}}`. Clerk documents `timestamp`
in milliseconds; some of its published examples use seconds, so both are read. Users and sessions
map to identity events keyed by the user id; everything else (emails, SMS, organizations…) passes
through as `clerk.<type>`.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from ingest.errors import ConfigError
from ingest.handlers.base import (
    Delivery,
    Emitted,
    InboundRequest,
    InvalidSignatureError,
    NoOptions,
    SignedRequest,
    SigningContext,
    Verdict,
    json_object,
    passthrough,
    text_or_none,
)
from ingest.handlers.standard_webhooks import StandardWebhooksHandler
from ingest.schemas.identity import (
    IdentityEvent,
    SessionEnded,
    SessionStarted,
    UserCreated,
    UserDeleted,
    UserUpdated,
)
from ingest.sources import SourceConfig

USER_EVENTS: Mapping[str, type[UserCreated | UserUpdated | UserDeleted]] = {
    "user.created": UserCreated,
    "user.updated": UserUpdated,
    "user.deleted": UserDeleted,
}
SESSION_STARTED = frozenset({"session.created"})
SESSION_ENDED = frozenset({"session.ended", "session.removed", "session.revoked"})
MILLISECONDS_FROM = 10**11
"""Unix times above this are milliseconds: 10**11 seconds is the year 5138."""


def _time(raw: Any) -> datetime | None:
    if not isinstance(raw, int | float) or isinstance(raw, bool) or raw <= 0:
        return None
    seconds = raw / 1000 if raw >= MILLISECONDS_FROM else raw
    return datetime.fromtimestamp(seconds, tz=UTC)


def _object(raw: Any) -> dict[str, Any]:
    return raw if isinstance(raw, dict) else {}


def _primary_email(user: dict[str, Any]) -> str | None:
    """The address `primary_email_address_id` points at; none is guessed if it points nowhere."""
    primary = user.get("primary_email_address_id")
    addresses = user.get("email_addresses")
    for address in addresses if isinstance(addresses, list) else []:
        if isinstance(address, dict) and address.get("id") == primary:
            return text_or_none(address.get("email_address"))
    return None


def _name(user: dict[str, Any]) -> str | None:
    parts = [text_or_none(user.get("first_name")), text_or_none(user.get("last_name"))]
    return " ".join(part for part in parts if part) or None


class ClerkHandler(StandardWebhooksHandler):
    vendor: ClassVar[str] = "clerk"
    summary: ClassVar[str] = "svix-signature: v1,base64 HMAC-SHA256 of '{id}.{timestamp}.{body}'"
    signature_headers: ClassVar[tuple[str, ...]] = ("svix-id", "svix-timestamp", "svix-signature")
    # Clerk's dashboard issues `whsec_` signing secrets (v1) only: no `public_keys` (v1a) option,
    # and a source without secrets is a configuration error rather than one that rejects all.
    options_model: ClassVar[type[BaseModel]] = NoOptions
    requires_secrets: ClassVar[bool] = True
    secrets_usage: ClassVar[str | None] = None
    sample_types: ClassVar[tuple[str, ...]] = (
        "user.created",
        "user.updated",
        "user.deleted",
        "session.created",
        "session.ended",
        "session.removed",
        "session.revoked",
        "email.created",
    )
    mapped_types: ClassVar[Mapping[str, str]] = {
        **{name: model.event_type for name, model in USER_EVENTS.items()},
        **dict.fromkeys(sorted(SESSION_STARTED), SessionStarted.event_type),
        **dict.fromkeys(sorted(SESSION_ENDED), SessionEnded.event_type),
    }

    def generate_keys(self, key_dir: Path) -> str:
        raise ConfigError("vendor clerk signs with a shared secret (whsec_…); there are no keys")

    def verify(
        self,
        request: InboundRequest,
        source: SourceConfig,
        now: float,
        documents: Mapping[str, bytes],
    ) -> Verdict:
        # `parse_unix_timestamp` trusts str.isdigit(), which is true for digits such as '²'
        # (byte 0xB2 of a latin-1 header) that int() refuses: a ValueError, i.e. a 500. Refuse
        # them here until handlers/base.py checks for ASCII digits itself.
        for name in ("svix-timestamp", "webhook-timestamp"):
            timestamp = request.headers.get(name)
            if timestamp is not None and not timestamp.strip().isascii():
                raise InvalidSignatureError("signature timestamp is not a Unix time in seconds")
        return super().verify(request, source, now, documents)

    def normalize(self, delivery: Delivery) -> list[Emitted]:
        event = json_object(delivery.body)
        data = _object(event.get("data"))
        request = _object(_object(event.get("event_attributes")).get("http_request"))
        common: dict[str, Any] = {
            "provider": "clerk",
            "provider_event_id": delivery.event_id,
            "occurred_at": _time(event.get("timestamp"))
            or _time(data.get("updated_at"))
            or delivery.received_at,
            "ip": text_or_none(request.get("client_ip")),
            "user_agent": text_or_none(request.get("user_agent")),
        }
        identity: IdentityEvent
        if delivery.event_type in USER_EVENTS:
            identity = USER_EVENTS[delivery.event_type](
                **common,
                user_id=data["id"],
                email=_primary_email(data),
                username=text_or_none(data.get("username")),
                name=_name(data),
            )
        elif delivery.event_type in SESSION_STARTED | SESSION_ENDED:
            user = _object(data.get("user"))
            person = {
                "user_id": data["user_id"],
                "email": _primary_email(user),
                "username": text_or_none(user.get("username")),
                "name": _name(user),
            }
            if delivery.event_type in SESSION_STARTED:
                identity = SessionStarted(**common, **person, session_id=data["id"])
            else:
                identity = SessionEnded(
                    **common,
                    **person,
                    session_id=data["id"],
                    reason=delivery.event_type.removeprefix("session."),
                )
        else:
            # Emails and SMS name their user; keep them on that user's partition too.
            return [passthrough(delivery, event, key=text_or_none(data.get("user_id")))]
        return [
            Emitted(
                type=type(identity).event_type,
                data=identity,
                key=identity.user_id or delivery.event_id,
                subject=identity.user_id,
                time=identity.occurred_at,
            )
        ]

    def sample(self, event_type: str | None) -> bytes:
        """After the payloads in Clerk's webhook documentation and event catalog."""
        event_type = event_type or self.sample_types[0]
        now_ms = int(time.time() * 1000)
        suffix = secrets.token_hex(12)
        user = _sample_user(f"user_{suffix}", now_ms)
        data: dict[str, Any]
        if event_type == "user.deleted":
            data = {"deleted": True, "id": user["id"], "object": "user"}
        elif event_type.startswith("user."):
            data = user
        elif event_type.startswith("session."):
            status = {"session.created": "active"}.get(event_type, event_type.split(".")[1])
            data = {
                "object": "session",
                "id": f"sess_{secrets.token_hex(12)}",
                "user_id": user["id"],
                "user": user,
                "client_id": f"client_{secrets.token_hex(12)}",
                "actor": None,
                "status": status,
                "last_active_organization_id": None,
                "last_active_at": now_ms,
                "expire_at": now_ms + 7 * 86_400_000,
                "abandon_at": now_ms + 30 * 86_400_000,
                "updated_at": now_ms,
                "created_at": now_ms,
            }
        else:
            data = {
                "object": "email",
                "id": f"ema_{secrets.token_hex(12)}",
                "slug": "verification_code",
                "status": "queued",
                "subject": "123456 is your verification code",
                "to_email_address": "example@example.org",
                "email_address_id": user["primary_email_address_id"],
                "user_id": user["id"],
                "delivered_by_clerk": True,
            }
        payload = {
            "data": data,
            "event_attributes": {
                "http_request": {
                    "client_ip": "192.168.1.100",
                    "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) "
                    "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
                }
            },
            "instance_id": "ins_123",
            "object": "event",
            "timestamp": now_ms,
            "type": event_type,
        }
        return json.dumps(payload, indent=2).encode()

    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        """Clerk sends Svix's header names; the signature is the Standard Webhooks one."""
        signed = super().sign(body, context, now, event_type)
        headers = {
            name.replace("webhook-", "svix-", 1) if name.startswith("webhook-") else name: value
            for name, value in signed.headers.items()
        }
        return SignedRequest(headers=headers, body=signed.body, url=signed.url)


def _sample_user(user_id: str, now_ms: int) -> dict[str, Any]:
    email_id = f"idn_{secrets.token_hex(12)}"
    return {
        "birthday": "",
        "created_at": now_ms,
        "email_addresses": [
            {
                "email_address": "example@example.org",
                "id": email_id,
                "linked_to": [],
                "object": "email_address",
                "verification": {"status": "verified", "strategy": "ticket"},
            }
        ],
        "external_accounts": [],
        "external_id": None,
        "first_name": "Example",
        "gender": "",
        "id": user_id,
        "image_url": "https://img.clerk.com/xxxxxx",
        "last_name": "Example",
        "last_sign_in_at": now_ms,
        "object": "user",
        "password_enabled": True,
        "phone_numbers": [],
        "primary_email_address_id": email_id,
        "primary_phone_number_id": None,
        "primary_web3_wallet_id": None,
        "private_metadata": {},
        "profile_image_url": "https://www.gravatar.com/avatar?d=mp",
        "public_metadata": {},
        "two_factor_enabled": False,
        "unsafe_metadata": {},
        "updated_at": now_ms,
        "username": None,
        "web3_wallets": [],
    }
