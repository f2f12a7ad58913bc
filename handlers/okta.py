"""Okta event hooks: a static credential header, a one-time GET verification, batched events.

Okta signs nothing. The hook's "Authentication field" names a header (usually `Authorization`)
and its "Authentication secret" is sent in it verbatim on every request, including the one-time
verification GET. So the source lists its accepted `tokens` and, if the hook uses another field
name, the `header`.

Verification: `GET` with `X-Okta-Verification-Challenge: <value>` must be answered
`200 {"verification": "<value>"}` — only for a caller presenting a valid credential, so nobody
else can use the endpoint as an echo or verify a hook of their own against it.

Delivery: `POST {"eventType": "com.okta.event_hook", "eventId": …, "data": {"events": [...]}}`,
each event a System Log `LogEvent`. A delivery is deduplicated by `eventId` (a hash of the body
when absent) and each event by its `uuid`, which Okta documents as the way to detect duplicates
across deliveries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel
from typing_extensions import override

from ingest.handlers import base
from ingest.handlers.schemes.credentials import TokenInHeader, TokenVerified
from ingest.schemas import identity
from ingest.schemas.passthrough import VendorPassthrough
from ingest.sources import SourceConfig

CHALLENGE_HEADER = "x-okta-verification-challenge"
MAX_CHALLENGE_LENGTH = 1024

USER_EVENTS: Mapping[str, type[identity.UserEvent]] = {
    "user.lifecycle.create": identity.UserCreated,
    "user.account.update_profile": identity.UserUpdated,
    # Okta reports a deletion twice, when it starts and when it completes; consumers of an
    # at-least-once stream handle a second `identity.user.deleted` for a user anyway.
    "user.lifecycle.delete.initiated": identity.UserDeleted,
    "user.lifecycle.delete.completed": identity.UserDeleted,
}
SESSION_START = "user.session.start"
SESSION_END = "user.session.end"


def _user_target(event: dict[str, Any]) -> dict[str, Any]:
    """The user an admin action was about: the first `User` target (the actor is the admin)."""
    targets = event.get("target")
    for target in targets if isinstance(targets, list) else []:
        if isinstance(target, dict) and target.get("type") == "User":
            return target
    raise ValueError(f"Okta {event.get('eventType')} event has no User target")


class OktaHandler(TokenVerified):
    vendor: ClassVar[str] = "okta"
    summary: ClassVar[str] = "Authorization (or configured) header equals a token; GET challenge"
    options_model: ClassVar[type[BaseModel]] = TokenInHeader
    """`tokens`: values of the hook's "Authentication secret" (two while rotating); `header`:
    its "Authentication field" when not Authorization. Okta sends the value verbatim."""
    mapped_types: ClassVar[Mapping[str, str]] = {
        **{name: model.event_type for name, model in USER_EVENTS.items()},
        f"{SESSION_START} (outcome SUCCESS)": identity.LoginSucceeded.event_type,
        f"{SESSION_START} (outcome FAILURE)": identity.LoginFailed.event_type,
        SESSION_END: identity.SessionEnded.event_type,
    }

    @override
    def handle_get(self, request: base.InboundRequest, source: SourceConfig) -> base.Reply:
        self.authenticate(request.headers, source)
        challenge = request.headers.get(CHALLENGE_HEADER, "").strip()
        if not challenge:
            raise base.MalformedRequestError("GET without X-Okta-Verification-Challenge")
        if len(challenge) > MAX_CHALLENGE_LENGTH:
            raise base.MalformedRequestError("X-Okta-Verification-Challenge is too long")
        return base.Reply(status=200, body=json.dumps({"verification": challenge}).encode())

    @override
    def identify(self, request: base.InboundRequest, source: SourceConfig) -> base.Identity:
        body = request.json_object()
        event_type = base.vendor_type(body.get("eventType"), "Okta eventType")
        raw_id = body.get("eventId", body.get("eventID"))
        event_id = (
            base.bounded_id(raw_id, "eventId") if raw_id is not None else request.body_digest()
        )
        return base.Identity(event_id=event_id, event_type=event_type)

    # -- normalization ---------------------------------------------------------------

    @override
    def normalize(self, delivery: base.Delivery) -> list[base.Emitted]:
        body = delivery.json_object()
        events = base.object_or_empty(body.get("data")).get("events")
        if not isinstance(events, list):
            raise ValueError("Okta event hook body has no data.events list")
        return base.map_items(events, self._event)

    @staticmethod
    def _event(event: Any) -> base.Emitted:
        if not isinstance(event, dict):
            raise ValueError("Okta event is not a JSON object")
        item_id = base.text_or_none(event.get("uuid"))
        event_type = base.text_or_none(event.get("eventType"))
        if item_id is None or event_type is None:
            raise ValueError("Okta event has no uuid or eventType")
        occurred_at = base.required_time(event.get("published"), "Okta event published time")
        client = base.object_or_empty(event.get("client"))
        actor = base.object_or_empty(event.get("actor"))
        outcome = base.object_or_empty(event.get("outcome"))
        auth_context = base.object_or_empty(event.get("authenticationContext"))
        common: dict[str, Any] = {
            "provider": "okta",
            "provider_event_id": item_id,
            "occurred_at": occurred_at,
            "ip": base.text_or_none(client.get("ipAddress")),
            "user_agent": base.text_or_none(
                base.object_or_empty(client.get("userAgent")).get("rawUserAgent")
            ),
        }
        result = outcome.get("result")
        data: identity.IdentityEvent | None = None
        if event_type in USER_EVENTS:
            user = _user_target(event)
            data = USER_EVENTS[event_type](
                **common,
                user_id=user["id"],
                username=base.text_or_none(user.get("alternateId")),
                name=base.text_or_none(user.get("displayName")),
            )
        elif event_type in (SESSION_START, SESSION_END):
            # The user signing in or out is the actor. Okta names an account it does not know
            # `unknown`: that is no user id.
            actor_id = base.text_or_none(actor.get("id"))
            person = {
                "user_id": actor_id if actor_id != "unknown" else None,
                "username": base.text_or_none(actor.get("alternateId")),
                "name": base.text_or_none(actor.get("displayName")),
            }
            session_id = base.text_or_none(auth_context.get("externalSessionId"))
            if event_type == SESSION_END:
                data = identity.SessionEnded(
                    **common, **person, session_id=session_id, reason="logout"
                )
            elif result == "SUCCESS":
                data = identity.LoginSucceeded(
                    **common,
                    **person,
                    session_id=session_id,
                    connection=base.text_or_none(auth_context.get("credentialProvider")),
                )
            elif result == "FAILURE":
                data = identity.LoginFailed(
                    **common,
                    **person,
                    reason=base.text_or_none(outcome.get("reason")),
                    connection=base.text_or_none(auth_context.get("credentialProvider")),
                )
        if data is None:
            return base.Emitted(
                data=VendorPassthrough(vendor="okta", vendor_event_type=event_type, payload=event),
                key=base.text_or_none(actor.get("id")) or item_id,
                time=occurred_at,
                item_id=item_id,
            )
        return base.Emitted(
            data=data,
            key=data.user_id or data.username or item_id,
            subject=data.user_id,
            item_id=item_id,
        )

    # -- sending ---------------------------------------------------------------------
