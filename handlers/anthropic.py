"""Anthropic (Claude Managed Agents webhooks, beta): Standard Webhooks; dedup on the body's `id`.

Anthropic signs with Standard Webhooks exactly as the reference library does: its SDK's
`client.beta.webhooks.unwrap()` hands the `whsec_…` signing key to `standardwebhooks.Webhook`
(anthropic-sdk-python `resources/beta/webhooks.py`). So verification, the strict header parsing,
the key check at start-up and signing are inherited from `StandardWebhooksHandler` unchanged.

What differs is the envelope: `{"type": "event", "id": …, "created_at": RFC 3339, "data": {"type":
"session.status_idled", "id": "sesn_…", "organization_id": …, "workspace_id": …}}`. The event
type is `data.type`; the body's `id` is documented as the idempotency key (retries repeat it), so
it is the dedup key, with `webhook-id` as the fallback. Session outcomes map to
`ai.agent_session.*`; every other event (threads, vaults, agents…) passes through as
`anthropic.<data.type>`. Payloads carry ids only: fetch the session for its state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from typing_extensions import override

from ingest.handlers import base
from ingest.handlers.standard_webhooks import StandardWebhooksHandler, _header
from ingest.schemas import ai
from ingest.sources import SourceConfig

SESSION_OUTCOMES: Mapping[str, type[ai.AgentSessionEvent]] = {
    "session.status_idled": ai.AgentSessionIdled,
    "session.status_terminated": ai.AgentSessionTerminated,
    "session.outcome_evaluation_ended": ai.AgentSessionOutcomeEvaluated,
}
STATUS = {
    "session.status_idled": "idled",
    "session.status_terminated": "terminated",
    "session.outcome_evaluation_ended": "outcome_evaluated",
}


def _data(document: Mapping[str, Any]) -> Mapping[str, Any]:
    data = document.get("data")
    if not isinstance(data, dict):
        raise base.MalformedRequestError("payload has no 'data' object")
    return data


class AnthropicHandler(StandardWebhooksHandler):
    vendor: ClassVar[str] = "anthropic"
    summary: ClassVar[str] = (
        "webhook-signature: v1,base64 HMAC-SHA256 of '{id}.{timestamp}.{body}' (Standard Webhooks)"
    )
    mapped_types: ClassVar[Mapping[str, str]] = {
        vendor_type: model.event_type for vendor_type, model in SESSION_OUTCOMES.items()
    }

    @override
    def identify(self, request: base.InboundRequest, source: SourceConfig) -> base.Identity:
        document = request.json_object()
        event_type = base.vendor_type(_data(document).get("type"), "data.type")
        body_id = document.get("id")
        if body_id is not None:
            event_id = base.bounded_id(body_id, "id")
        else:
            header_id = _header(request.headers, "id")
            event_id = base.bounded_id(header_id, "webhook-id")
        return base.Identity(event_id=event_id, event_type=event_type)

    @override
    def normalize(self, delivery: base.Delivery) -> list[base.Emitted]:
        document = delivery.json_object()
        data = _data(document)
        model = SESSION_OUTCOMES.get(delivery.event_type)
        if model is None:
            return [base.passthrough(delivery, document, key=base.text_or_none(data.get("id")))]
        session_id = base.required_text(data.get("id"), "data.id")
        occurred_at = base.iso_time(document.get("created_at"))
        event = model(
            provider="anthropic",
            session_id=session_id,
            status=STATUS[delivery.event_type],
            provider_event_id=delivery.event_id,
            organization_id=base.text_or_none(data.get("organization_id")),
            workspace_id=base.text_or_none(data.get("workspace_id")),
            occurred_at=occurred_at,
        )
        # Per session, in order (Anthropic does not order deliveries; created_at is the truth).
        return [base.Emitted(data=event, key=session_id, subject=session_id)]
