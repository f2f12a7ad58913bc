"""Slack Events API: `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:{timestamp}:{body}">` with the
app's signing secret, `X-Slack-Request-Timestamp` within 300 s of now (both directions).

`url_verification` is the handshake Slack sends when the Request URL is saved: stored, never
published, answered with its `challenge`. Event callbacks dedup on `event_id`, which Slack keeps
on its retries (those add `X-Slack-Retry-Num`/`X-Slack-Retry-Reason` and a fresh signature), so a
retry is a duplicate.

Slash commands and interactivity (block actions, shortcuts, view submissions) post forms —
interactivity a single `payload=` field of JSON. They are stored, answered with an empty 200
(Slack's acknowledgement: the user sees nothing) and published as `slack.slash_command` and
`slack.<interaction type>`; their id is Slack's `trigger_id`. The legacy verification `token`
they carry is not passed on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs

from typing_extensions import override

from ingest.handlers import base
from ingest.handlers.schemes.hmac_signature import HmacSignature
from ingest.schemas import chat
from ingest.sources import SourceConfig

SIGNATURE = HmacSignature(header="X-Slack-Signature", vendor="Slack", prefix="v0=")
TIMESTAMP_HEADER = "x-slack-request-timestamp"
# Message subtypes that are a new message in the channel; the rest (joins, topic changes…)
# pass through as `slack.message`.
POSTED_SUBTYPES = frozenset({None, "bot_message", "file_share", "me_message", "thread_broadcast"})


SLASH_COMMAND = "slash_command"
MAX_FORM_FIELDS = 100


def _body(raw: bytes) -> dict[str, Any]:
    if raw[:1] != b"{":
        raise base.MalformedRequestError("not an Events API JSON body")
    return base.json_object(raw)


def _form(raw: bytes) -> dict[str, Any] | None:
    """A slash command's fields, or an interaction's `payload` JSON; None for a JSON body."""
    if raw[:1] == b"{":
        return None
    try:
        fields = parse_qs(
            raw.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=True,
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise base.MalformedRequestError("form body is not url-encoded UTF-8") from None
    form = {name: values[0] for name, values in fields.items()}
    if "payload" in form and len(form) == 1:
        interaction = base.json_object(form["payload"].encode())
        interaction.setdefault("type", "interaction")
        return interaction
    if "command" in form:
        return {**form, "type": SLASH_COMMAND}
    raise base.MalformedRequestError("form body is neither a slash command nor an interaction")


def _without_token(fields: dict[str, Any]) -> dict[str, Any]:
    """The legacy verification token is a credential: never published."""
    return {name: value for name, value in fields.items() if name != "token"}


def _challenge_id(challenge: str) -> str:
    return f"url_verification:{base.text_digest(challenge)[:40]}"


def _event_time(body: dict[str, Any], event: dict[str, Any], fallback: datetime) -> datetime:
    event_time = body.get("event_time")
    if isinstance(event_time, int) and not isinstance(event_time, bool):
        return base.from_unix(event_time) or fallback
    event_ts = event.get("event_ts") or event.get("ts")
    if isinstance(event_ts, str):
        return base.from_unix(float(event_ts)) or fallback
    return fallback


class SlackHandler(base.VendorHandler):
    vendor: ClassVar[str] = "slack"
    summary: ClassVar[str] = (
        "X-Slack-Signature: v0=HMAC-SHA256 hex of 'v0:{timestamp}:{body}' (signing secret)"
    )
    signature_headers: ClassVar[tuple[str, ...]] = (
        "X-Slack-Signature",
        "X-Slack-Request-Timestamp",
    )
    default_tolerance_seconds: ClassVar[int | None] = 300
    mapped_types: ClassVar[Mapping[str, str]] = {
        "message": chat.ChatMessagePosted.event_type,
        "message (message_changed)": chat.ChatMessageEdited.event_type,
        "message (message_deleted)": chat.ChatMessageDeleted.event_type,
        "app_mention": chat.ChatAppMention.event_type,
        "reaction_added": chat.ChatReactionAdded.event_type,
        "reaction_removed": chat.ChatReactionRemoved.event_type,
        "url_verification": "(handshake, answered with the challenge, not published)",
        "slash command (form)": "slack.slash_command (answered with an empty 200)",
        "interactivity (form, payload=)": "slack.<type> (answered with an empty 200)",
    }

    @override
    def verify(self, check: base.Verification) -> base.Verdict:
        request, source, now = check.request, check.source, check.now
        offered = SIGNATURE.offered(request)
        raw_timestamp = (request.header_bytes(TIMESTAMP_HEADER) or b"").strip(b" \t")
        if not raw_timestamp:
            raise base.MissingSignatureError("X-Slack-Request-Timestamp header is missing")
        signed_at = base.parse_unix_timestamp(raw_timestamp)
        # The timestamp is signed as sent (ASCII digits, once parsed), then the body.
        signed = b"v0:" + raw_timestamp + b":" + request.body
        index = SIGNATURE.matching_secret(source.secrets, [signed], offered)
        base.check_tolerance(signed_at, now, self.tolerance(source))
        return base.Verdict(secret_index=index, signed_at=signed_at)

    @override
    def identify(self, request: base.InboundRequest, source: SourceConfig) -> base.Identity:
        form = _form(request.body)
        if form is not None:
            trigger = form.get("trigger_id")
            return base.Identity(
                event_id=base.bounded_id(trigger, "trigger_id")
                if trigger
                else request.body_digest(),
                event_type=base.bounded_id(form.get("type"), "type"),
            )
        body = _body(request.body)
        kind = body.get("type")
        if kind == "url_verification":
            challenge = body.get("challenge")
            if not isinstance(challenge, str) or not challenge or len(challenge) > 1024:
                raise base.MalformedRequestError("url_verification has no challenge")
            return base.Identity(
                event_id=_challenge_id(challenge), event_type="url_verification", handshake=True
            )
        if kind == "event_callback":
            event = body.get("event")
            if not isinstance(event, dict):
                raise base.MalformedRequestError("event_callback has no event")
            return base.Identity(
                event_id=base.bounded_id(body.get("event_id"), "event_id"),
                event_type=base.bounded_id(event.get("type"), "event.type"),
            )
        if kind == "app_rate_limited":
            # Slack's notice that events were dropped for a minute; one per app and minute.
            minute = body.get("minute_rate_limited")
            app = body.get("api_app_id")
            return base.Identity(
                event_id=base.bounded_id(f"app_rate_limited:{app}:{minute}", "minute_rate_limited"),
                event_type="app_rate_limited",
            )
        event_type = base.bounded_id(kind, "type")
        event_id = body.get("event_id")
        return base.Identity(
            event_id=base.bounded_id(event_id, "event_id")
            if event_id is not None
            else request.body_digest(),
            event_type=event_type,
        )

    @override
    def reply(self, request: base.InboundRequest, identity: base.Identity) -> base.Reply | None:
        if request.body[:1] != b"{":
            # A command or interaction: an empty 200 acknowledges it and shows the user nothing
            # (our JSON receipt would be shown to them as the command's answer).
            return base.Reply(status=200, body=b"", content_type="text/plain")
        if identity.event_type != "url_verification":
            return None
        challenge = _body(request.body)["challenge"]
        return base.Reply(status=200, body=json.dumps({"challenge": challenge}).encode())

    @override
    def normalize(self, delivery: base.Delivery) -> list[base.Emitted]:
        form = _form(delivery.body)
        if form is not None:
            return [base.passthrough(delivery, _without_token(form))]
        body = _body(delivery.body)
        if body.get("type") == "url_verification":
            return []
        event = body.get("event")
        if body.get("type") != "event_callback" or not isinstance(event, dict):
            return [base.passthrough(delivery, body)]
        team = body.get("team_id") or event.get("team")
        occurred_at = _event_time(body, event, delivery.received_at)
        data: Any
        match event.get("type"), event.get("subtype"):
            case "message", subtype if subtype in POSTED_SUBTYPES:
                data = chat.ChatMessagePosted(**_message(event, team, occurred_at), subtype=subtype)
            case "message", "message_changed":
                edited = {**event["message"], "channel": event["channel"]}
                data = chat.ChatMessageEdited(**_message(edited, team, occurred_at))
            case "message", "message_deleted":
                data = chat.ChatMessageDeleted(
                    provider="slack",
                    team_id=team,
                    channel=event["channel"],
                    ts=event["deleted_ts"],
                    occurred_at=occurred_at,
                )
            case "app_mention", _:
                data = chat.ChatAppMention(**_message(event, team, occurred_at))
            case ("reaction_added" | "reaction_removed") as kind, _:
                item = event.get("item") or {}
                model = (
                    chat.ChatReactionAdded if kind == "reaction_added" else chat.ChatReactionRemoved
                )
                data = model(
                    provider="slack",
                    team_id=team,
                    channel=item.get("channel"),
                    user=event["user"],
                    reaction=event["reaction"],
                    item_ts=item.get("ts"),
                    item_user=event.get("item_user"),
                    occurred_at=occurred_at,
                )
            case _:
                return [base.passthrough(delivery, body)]
        channel = data.channel or "-"
        return [base.Emitted(data=data, key=f"{team}:{channel}", subject=channel)]


def _message(event: dict[str, Any], team: Any, occurred_at: datetime) -> dict[str, Any]:
    return {
        "provider": "slack",
        "team_id": team,
        "channel": event["channel"],
        "user": event.get("user"),
        "text": event.get("text") or "",
        "ts": event["ts"],
        "thread_ts": event.get("thread_ts"),
        "occurred_at": occurred_at,
    }
