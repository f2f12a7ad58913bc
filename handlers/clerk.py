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

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel
from typing_extensions import override

from ingest.handlers import base
from ingest.handlers.standard_webhooks import StandardWebhooksHandler
from ingest.schemas import identity

USER_EVENTS: Mapping[str, type[identity.UserEvent]] = {
    "user.created": identity.UserCreated,
    "user.updated": identity.UserUpdated,
    "user.deleted": identity.UserDeleted,
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


def _primary_email(user: dict[str, Any]) -> str | None:
    """The address `primary_email_address_id` points at; none is guessed if it points nowhere."""
    primary = user.get("primary_email_address_id")
    addresses = user.get("email_addresses")
    for address in addresses if isinstance(addresses, list) else []:
        if isinstance(address, dict) and address.get("id") == primary:
            return base.text_or_none(address.get("email_address"))
    return None


def _name(user: dict[str, Any]) -> str | None:
    parts = [base.text_or_none(user.get("first_name")), base.text_or_none(user.get("last_name"))]
    return " ".join(part for part in parts if part) or None


class ClerkHandler(StandardWebhooksHandler):
    vendor: ClassVar[str] = "clerk"
    summary: ClassVar[str] = "svix-signature: v1,base64 HMAC-SHA256 of '{id}.{timestamp}.{body}'"
    signature_headers: ClassVar[tuple[str, ...]] = ("svix-id", "svix-timestamp", "svix-signature")
    # Clerk's dashboard issues `whsec_` signing secrets (v1) only: no `public_keys` (v1a) option,
    # and a source without secrets is a configuration error rather than one that rejects all.
    options_model: ClassVar[type[BaseModel]] = base.NoOptions
    requires_secrets: ClassVar[bool] = True
    secrets_usage: ClassVar[str | None] = None
    mapped_types: ClassVar[Mapping[str, str]] = {
        **{name: model.event_type for name, model in USER_EVENTS.items()},
        **dict.fromkeys(sorted(SESSION_STARTED), identity.SessionStarted.event_type),
        **dict.fromkeys(sorted(SESSION_ENDED), identity.SessionEnded.event_type),
    }

    @override
    def normalize(self, delivery: base.Delivery) -> list[base.Emitted]:
        event = delivery.json_object()
        data = base.object_or_empty(event.get("data"))
        request = base.object_or_empty(
            base.object_or_empty(event.get("event_attributes")).get("http_request")
        )
        common: dict[str, Any] = {
            "provider": "clerk",
            "provider_event_id": delivery.event_id,
            "occurred_at": _time(event.get("timestamp"))
            or _time(data.get("updated_at"))
            or delivery.received_at,
            "ip": base.text_or_none(request.get("client_ip")),
            "user_agent": base.text_or_none(request.get("user_agent")),
        }
        mapped: identity.IdentityEvent
        if delivery.event_type in USER_EVENTS:
            mapped = USER_EVENTS[delivery.event_type](
                **common,
                user_id=data["id"],
                email=_primary_email(data),
                username=base.text_or_none(data.get("username")),
                name=_name(data),
            )
        elif delivery.event_type in SESSION_STARTED | SESSION_ENDED:
            user = base.object_or_empty(data.get("user"))
            person = {
                "user_id": data["user_id"],
                "email": _primary_email(user),
                "username": base.text_or_none(user.get("username")),
                "name": _name(user),
            }
            if delivery.event_type in SESSION_STARTED:
                mapped = identity.SessionStarted(**common, **person, session_id=data["id"])
            else:
                mapped = identity.SessionEnded(
                    **common,
                    **person,
                    session_id=data["id"],
                    reason=delivery.event_type.removeprefix("session."),
                )
        else:
            # Emails and SMS name their user; keep them on that user's partition too.
            return [base.passthrough(delivery, event, key=base.text_or_none(data.get("user_id")))]
        return [
            base.Emitted(
                data=mapped, key=mapped.user_id or delivery.event_id, subject=mapped.user_id
            )
        ]
