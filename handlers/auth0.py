"""Auth0: log streams ("Custom Webhook") and event streams (CloudEvents), authenticated by a token.

Auth0 signs nothing. A Custom Webhook log stream sends, in the `Authorization` header, exactly the
"Authorization Token" configured on the stream (users type `Bearer <token>` or just the token);
an event stream's webhook destination sends `Authorization: Bearer <token>`. So the source lists
its accepted `tokens` (several during a rotation) and the header must be one of them, bare or
after `Bearer `.

Two body shapes arrive on the same endpoint:

- Log streams: log events `{"log_id": …, "data": {"type": "s", "date": …, …}}`, as a JSON array,
  one JSON object, or JSON lines (the stream's "Content Format"). A delivery has no id of its own,
  so it is deduplicated by a hash of the body, and each log by its `log_id` across deliveries.
  The log type codes (https://auth0.com/docs/deploy-monitor/logs/log-event-type-codes) map to
  identity events; other codes pass through as `auth0.<code>`.
- Event streams: one CloudEvent (`specversion`, `id`, `type: user.created`, `data.object`),
  deduplicated by its `id`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from typing_extensions import override

from ingest.handlers import base
from ingest.handlers.schemes.credentials import TokenVerified
from ingest.schemas import identity
from ingest.schemas.passthrough import VendorPassthrough
from ingest.sources import SourceConfig

AUTHORIZATION = "authorization"
LOG_STREAM = "log_stream"
"""The vendor event type of a log stream delivery (its logs have their own codes)."""
CLOUDEVENT_TYPE_PREFIX = "com.auth0."
"""Early-access event streams named types `com.auth0.user.created`; current ones `user.created`."""

# Auth0's own "Log Stream Event Filters" categories decide what a login is: Login - Success
# (s, scoa, sens) and Login - Failure (f, fc, fco, fcoa, fens, fp, fu). Failed signups (fs),
# silent authentication (ssa/fsa) and token exchanges are not logins and pass through.
LOGIN_SUCCEEDED_CODES = frozenset({"s", "scoa", "sens"})
LOGIN_FAILED_CODES = frozenset({"f", "fc", "fco", "fcoa", "fens", "fp", "fu"})
USER_CREATED_CODES = frozenset({"ss"})
USER_UPDATED_CODES = frozenset({"sce", "scu", "scpn"})  # email, username, phone number changed
USER_DELETED_CODES = frozenset({"sdu", "du"})
SESSION_ENDED_CODES = frozenset({"slo"})

CLOUDEVENT_MAP: Mapping[str, type[identity.UserEvent]] = {
    "user.created": identity.UserCreated,
    "user.updated": identity.UserUpdated,
    "user.deleted": identity.UserDeleted,
}


def _records(body: bytes) -> tuple[str, Any]:
    """('cloudevent', event) or ('logs', [log, …]) from any of the content formats Auth0 sends."""
    try:
        document: Any = base.parse_json(body)
    except base.MalformedRequestError:
        # JSON lines: one log per line.
        try:
            lines = [line for line in body.decode("utf-8").splitlines() if line.strip()]
        except UnicodeDecodeError:
            raise base.MalformedRequestError("body is not UTF-8") from None
        if len(lines) < 2:
            raise
        document = [base.parse_json(line.encode()) for line in lines]
    if isinstance(document, dict):
        if "specversion" in document or "spec_version" in document:
            return "cloudevent", document
        return "logs", [document]
    if isinstance(document, list):
        return "logs", document
    raise base.MalformedRequestError("body is neither Auth0 log events nor a CloudEvent")


class Auth0Handler(TokenVerified):
    vendor: ClassVar[str] = "auth0"
    summary: ClassVar[str] = "Authorization header equals a configured token (bare or Bearer)"
    accepts_bearer: ClassVar[bool] = True
    mapped_types: ClassVar[Mapping[str, str]] = {
        **dict.fromkeys(sorted(LOGIN_SUCCEEDED_CODES), identity.LoginSucceeded.event_type),
        **dict.fromkeys(sorted(LOGIN_FAILED_CODES), identity.LoginFailed.event_type),
        **dict.fromkeys(sorted(USER_CREATED_CODES), identity.UserCreated.event_type),
        **dict.fromkeys(sorted(USER_UPDATED_CODES), identity.UserUpdated.event_type),
        **dict.fromkeys(sorted(USER_DELETED_CODES), identity.UserDeleted.event_type),
        **dict.fromkeys(sorted(SESSION_ENDED_CODES), identity.SessionEnded.event_type),
        **{name: model.event_type for name, model in CLOUDEVENT_MAP.items()},
    }

    @override
    def identify(self, request: base.InboundRequest, source: SourceConfig) -> base.Identity:
        kind, document = _records(request.body)
        if kind == "cloudevent":
            event_type = base.vendor_type(document.get("type"), "CloudEvent type")
            return base.Identity(
                event_id=base.bounded_id(document.get("id"), "CloudEvent id"), event_type=event_type
            )
        return base.Identity(event_id=request.body_digest(), event_type=LOG_STREAM)

    # -- normalization ---------------------------------------------------------------

    @override
    def normalize(self, delivery: base.Delivery) -> list[base.Emitted]:
        kind, document = _records(delivery.body)
        if kind == "cloudevent":
            return [self._cloudevent(delivery, document)]
        return base.map_items(document, self._log)

    @staticmethod
    def _cloudevent(delivery: base.Delivery, event: dict[str, Any]) -> base.Emitted:
        event_type = str(event["type"]).removeprefix(CLOUDEVENT_TYPE_PREFIX)
        model = CLOUDEVENT_MAP.get(event_type)
        data = event.get("data")
        user = data.get("object") if isinstance(data, dict) else None
        if model is None or not isinstance(user, dict):
            return base.Emitted(
                data=VendorPassthrough(vendor="auth0", vendor_event_type=event_type, payload=event),
                key=delivery.event_id,
            )
        occurred_at = (
            base.iso_time(event.get("time"))
            or base.iso_time(
                user.get("deleted_at") if model is identity.UserDeleted else user.get("updated_at")
            )
            or delivery.received_at
        )
        user_id = user["user_id"]
        emitted = model(
            provider="auth0",
            provider_event_id=delivery.event_id,
            user_id=user_id,
            email=base.text_or_none(user.get("email")),
            username=base.text_or_none(user.get("username")),
            name=base.text_or_none(user.get("name")),
            occurred_at=occurred_at,
        )
        return base.Emitted(data=emitted, key=user_id, subject=user_id)

    @staticmethod
    def _log(record: Any) -> base.Emitted:
        if not isinstance(record, dict):
            raise ValueError("Auth0 log event is not a JSON object")
        # Streams wrap each log as {"log_id", "data"}; the Management API's shape is the bare log.
        wrapped = record.get("data")
        log: dict[str, Any] = wrapped if isinstance(wrapped, dict) else record
        log_id = (
            base.text_or_none(record.get("log_id"))
            or base.text_or_none(log.get("log_id"))
            or base.text_or_none(log.get("_id"))
        )
        if log_id is None:
            raise ValueError("Auth0 log event has no log_id")
        code = base.required_text(log.get("type"), "Auth0 log event type code")
        occurred_at = base.required_time(log.get("date"), "Auth0 log event date")
        details = base.object_or_empty(log.get("details"))
        user_id = base.text_or_none(log.get("user_id"))
        common: dict[str, Any] = {
            "provider": "auth0",
            "provider_event_id": log_id,
            "user_id": user_id,
            "username": base.text_or_none(log.get("user_name")),
            "occurred_at": occurred_at,
            "ip": base.text_or_none(log.get("ip")),
            "user_agent": base.text_or_none(log.get("user_agent")),
        }
        session_id = base.text_or_none(details.get("session_id"))
        data: identity.IdentityEvent
        if code in LOGIN_SUCCEEDED_CODES:
            data = identity.LoginSucceeded(
                **common,
                session_id=session_id,
                application=base.text_or_none(log.get("client_name")),
                connection=base.text_or_none(log.get("connection")),
            )
        elif code in LOGIN_FAILED_CODES:
            data = identity.LoginFailed(
                **common,
                reason=base.text_or_none(log.get("description")),
                failure_code=code,
                application=base.text_or_none(log.get("client_name")),
                connection=base.text_or_none(log.get("connection")),
            )
        elif code in USER_CREATED_CODES:
            data = identity.UserCreated(**common)
        elif code in USER_UPDATED_CODES:
            data = identity.UserUpdated(**common)
        elif code in USER_DELETED_CODES:
            data = identity.UserDeleted(**common)
        elif code in SESSION_ENDED_CODES:
            data = identity.SessionEnded(**common, session_id=session_id, reason="logout")
        else:
            return base.Emitted(
                data=VendorPassthrough(vendor="auth0", vendor_event_type=code, payload=record),
                key=user_id or log_id,
                time=occurred_at,
                item_id=log_id,
            )
        # A failed login for an unknown account is keyed by what was typed, so repeated attempts
        # against one username stay in order.
        key = data.user_id or data.username or log_id
        return base.Emitted(data=data, key=key, subject=data.user_id, item_id=log_id)

    # -- sending ---------------------------------------------------------------------
