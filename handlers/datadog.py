"""Datadog (Webhooks integration): no signature; a shared token in a custom header, or Basic auth.

Datadog signs nothing. Its webhook definition can carry custom headers (JSON) and HTTP Basic
credentials, so the source configures one or both:

- `tokens` + `header`: Datadog sends `{"X-Datadog-Webhook-Token": "<token>"}` as a custom header
  (store the token in a Datadog custom variable marked secret, referenced as `$MY_TOKEN`);
- `basic_auth`: the webhook's Basic authentication username/password.

At least one is required: an endpoint that accepts anything is refused at start-up. The token
header's name must be one the inbox redacts (it contains `token` or `secret`, or is
`authorization`/`x-api-key`), so no credential is ever stored with the event.

The body is the payload template the user writes in Datadog; docs/vendors/datadog.md gives the one
this handler reads. `id` (`$ID`, the notification's event id, unchanged on Datadog's retries) is
the dedup key, and `alert_transition` (`$ALERT_TRANSITION`) the type: Triggered / Re-Triggered →
`monitoring.alert.triggered`, Warn / Re-Warn → `.warning`, Recovered → `.resolved`; No Data,
Renotify and anything else pass through as `datadog.<transition>`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from typing_extensions import override

from ingest.handlers import base
from ingest.handlers.schemes.credentials import (
    BasicCredential,
    match_basic,
    match_token,
)
from ingest.redaction import is_redacted_name
from ingest.schemas import monitoring
from ingest.sources import SourceConfig

DEFAULT_TOKEN_HEADER = "x-datadog-webhook-token"  # noqa: S105 - a header name, not a secret
MILLISECONDS_THRESHOLD = 100_000_000_000  # epoch values above this are milliseconds ($DATE is)

TRANSITIONS: Mapping[str, type[monitoring.MonitoringAlert]] = {
    "triggered": monitoring.AlertTriggered,
    "re-triggered": monitoring.AlertTriggered,
    "warn": monitoring.AlertWarning,
    "re-warn": monitoring.AlertWarning,
    "recovered": monitoring.AlertResolved,
}


class DatadogOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tokens: list[Annotated[str, StringConstraints(min_length=16)]] = Field(default_factory=list)
    """Accepted values of the token header; several to rotate. At least 16 characters."""
    header: str = DEFAULT_TOKEN_HEADER
    """The custom header Datadog sends the token in (case-insensitive)."""
    basic_auth: list[BasicCredential] = Field(default_factory=list)
    """Accepted Basic auth username/password pairs; several to rotate."""

    @field_validator("header")
    @classmethod
    def _redacted_header(cls, value: str) -> str:
        name = value.strip().lower()
        if not base.HEADER_NAME.fullmatch(name):
            raise ValueError("header must be an HTTP header name")
        if not is_redacted_name(name):
            raise ValueError(
                "header must contain 'token' or 'secret' (or be authorization/x-api-key) so the "
                "inbox never stores the credential"
            )
        return name

    @model_validator(mode="after")
    def _fail_closed(self) -> DatadogOptions:
        if not self.tokens and not self.basic_auth:
            raise ValueError("set 'tokens' or 'basic_auth': Datadog signs nothing")
        if self.header == "authorization" and self.basic_auth:
            raise ValueError("header 'authorization' would collide with basic_auth")
        return self


def _text(raw: Any) -> str | None:
    """A template variable's value; Datadog leaves variables that do not apply empty."""
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return str(raw)
    return raw.strip() if isinstance(raw, str) and raw.strip() else None


def _transition(document: Mapping[str, Any]) -> str:
    """`Re-Triggered` → `re-triggered`, `No Data` → `no_data`: a CloudEvent-safe type."""
    raw = _text(document.get("alert_transition")) or _text(document.get("event_type")) or "event"
    slug = re.sub(r"[^a-z0-9_.-]+", "_", raw.lower()).strip("_")
    if not slug or len(slug) > 64:
        raise base.MalformedRequestError("alert_transition is not a short word")
    return slug


def _tags(raw: Any) -> list[str]:
    if isinstance(raw, list):
        return [str(tag).strip() for tag in raw if str(tag).strip()]
    text = _text(raw)
    return [tag.strip() for tag in text.split(",") if tag.strip()] if text else []


def _time(raw: Any) -> datetime | None:
    text = _text(raw)
    if text is None:
        return None
    if text.isdigit():
        value = int(text)
        seconds = value / 1000 if value > MILLISECONDS_THRESHOLD else value
        return datetime.fromtimestamp(seconds, tz=UTC)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


class DatadogHandler(base.VendorHandler):
    vendor: ClassVar[str] = "datadog"
    summary: ClassVar[str] = "shared token in a custom header (tokens, header) or Basic auth"
    signature_headers: ClassVar[tuple[str, ...]] = ("X-Datadog-Webhook-Token", "Authorization")
    options_model: ClassVar[type[BaseModel]] = DatadogOptions
    requires_secrets: ClassVar[bool] = False
    credentials_option: ClassVar[str | None] = "'tokens' or 'basic_auth'"
    mapped_types: ClassVar[Mapping[str, str]] = {
        "triggered": monitoring.AlertTriggered.event_type,
        "re-triggered": monitoring.AlertTriggered.event_type,
        "warn": monitoring.AlertWarning.event_type,
        "re-warn": monitoring.AlertWarning.event_type,
        "recovered": monitoring.AlertResolved.event_type,
    }

    @override
    def credential_headers(self, source: SourceConfig) -> frozenset[str]:
        return frozenset({self.options(source, DatadogOptions).header})

    @override
    def verify(self, check: base.Verification) -> base.Verdict:
        request, source = check.request, check.source
        options = self.options(source, DatadogOptions)
        token = request.headers.get(options.header)
        authorization = request.headers.get("authorization")
        if options.tokens and token:
            return base.Verdict(secret_index=match_token(token, options.tokens, options.header))
        if options.basic_auth and authorization:
            return base.Verdict(secret_index=match_basic(authorization, options.basic_auth))
        if token or authorization:
            raise base.InvalidCredentialsError(
                "the credentials presented are not the ones configured"
            )
        raise base.MissingCredentialsError(f"neither {options.header} nor Authorization was sent")

    @override
    def identify(self, request: base.InboundRequest, source: SourceConfig) -> base.Identity:
        document = request.json_object()
        event_id = base.bounded_id(_text(document.get("id")), "id ($ID in the payload template)")
        return base.Identity(event_id=event_id, event_type=_transition(document))

    @override
    def normalize(self, delivery: base.Delivery) -> list[base.Emitted]:
        document = delivery.json_object()
        model = TRANSITIONS.get(delivery.event_type)
        if model is None:
            return [base.passthrough(delivery, document, key=_text(document.get("alert_id")))]
        alert_id = _text(document.get("alert_id"))
        data = model(
            provider="datadog",
            notification_id=delivery.event_id,
            alert_id=alert_id,
            title=_text(document.get("title")) or "",
            transition=_text(document.get("alert_transition")),
            priority=_text(document.get("alert_priority")) or _text(document.get("priority")),
            tags=_tags(document.get("tags")),
            url=_text(document.get("link")),
            message=_text(document.get("body")),
            cycle_key=_text(document.get("alert_cycle_key")),
            occurred_at=_time(document.get("date")),
        )
        return [
            base.Emitted(
                data=data,
                # Per monitor, in order: a recovery must not overtake its trigger.
                key=alert_id or delivery.event_id,
                subject=alert_id,
            )
        ]
