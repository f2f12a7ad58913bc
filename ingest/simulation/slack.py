"""What `slack` sends, simulated for `ingest send`, the benchmarks and the tests: sample bodies
with fresh ids, signed as the vendor signs them. The service never imports this to receive."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any, ClassVar
from urllib.parse import urlencode

from ingest.handlers.slack import SIGNATURE, SLASH_COMMAND, SlackHandler
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


def _trigger_id() -> str:
    return f"{secrets.randbelow(10**12)}.47445629121.{secrets.token_hex(16)}"


class SlackSimulator(Simulator[SlackHandler]):
    vendor: ClassVar[str] = SlackHandler.vendor
    sample_types: ClassVar[tuple[str, ...]] = (
        "message",
        "app_mention",
        "reaction_added",
        "url_verification",
        "channel_created",
        "slash_command",
        "block_actions",
    )

    def sample(self, event_type: str | None) -> bytes:
        """Bodies as in Slack's Events API documentation examples."""
        event_type = event_type or self.sample_types[0]
        if event_type == SLASH_COMMAND:  # the form of Slack's signing documentation
            return urlencode(
                {
                    "token": "xyzz0WbapA4vBCDEFasx0q6G",
                    "team_id": "T1DC2JH3J",
                    "team_domain": "testteamnow",
                    "channel_id": "G8PSS9T3V",
                    "channel_name": "foobar",
                    "user_id": "U2CERLKJA",
                    "user_name": "roadrunner",
                    "command": "/webhook-collect",
                    "text": "",
                    "response_url": (
                        "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/"
                        "96rGlfmibIGlgcZRskXaIFfN"
                    ),
                    "trigger_id": _trigger_id(),
                }
            ).encode()
        if event_type == "block_actions":
            interaction = {
                "type": "block_actions",
                "token": "xyzz0WbapA4vBCDEFasx0q6G",
                "team": {"id": "T1DC2JH3J", "domain": "testteamnow"},
                "user": {"id": "U2CERLKJA", "name": "roadrunner"},
                "api_app_id": "A0KRD7HC3",
                "trigger_id": _trigger_id(),
                "actions": [
                    {
                        "action_id": "approve",
                        "block_id": "b1",
                        "type": "button",
                        "value": "click_me_123",
                        "action_ts": f"{time.time():.6f}",
                    }
                ],
                "response_url": "https://hooks.slack.com/actions/T1DC2JH3J/1/abc",
            }
            return urlencode({"payload": json.dumps(interaction)}).encode()
        if event_type == "url_verification":
            body: dict[str, Any] = {
                "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
                "challenge": secrets.token_urlsafe(36),
                "type": "url_verification",
            }
            return json.dumps(body).encode()
        now = time.time()
        ts = f"{now:.6f}"
        event: dict[str, Any]
        if event_type == "reaction_added":
            event = {
                "type": "reaction_added",
                "user": "U123ABC456",
                "reaction": "thumbsup",
                "item_user": "U222222222",
                "item": {"type": "message", "channel": "C123ABC456", "ts": "1360782400.498405"},
                "event_ts": ts,
            }
        elif event_type == "app_mention":
            event = {
                "type": "app_mention",
                "user": "U061F7AUR",
                "text": "<@U0LAN0Z89> is it everything a river should be?",
                "ts": ts,
                "channel": "C0LAN2Q65",
                "event_ts": ts,
            }
        elif event_type == "message":
            event = {
                "type": "message",
                "channel": "C123ABC456",
                "user": "U123ABC456",
                "text": "Live long and prospect.",
                "ts": ts,
                "event_ts": ts,
                "channel_type": "channel",
            }
        else:
            event = {
                "type": event_type,
                "channel": {"id": "C024BE91L", "name": "fun", "created": int(now)},
                "event_ts": ts,
            }
        body = {
            "token": "XXYYZZ",
            "team_id": "T123ABC456",
            "api_app_id": "A123ABC456",
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{secrets.token_hex(5).upper()}",
            "event_time": int(now),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": "T123ABC456",
                    "user_id": "U123ABC456",
                    "is_bot": True,
                }
            ],
        }
        return json.dumps(body).encode()

    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        timestamp = str(int(now))
        base = b"v0:" + timestamp.encode() + b":" + body
        form = body[:1] != b"{"
        headers = {
            "Content-Type": "application/x-www-form-urlencoded" if form else "application/json",
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            "X-Slack-Request-Timestamp": timestamp,
            SIGNATURE.header: SIGNATURE.header_value(context.secret or "", base),
        }
        return SignedRequest(headers=headers, body=body, url=context.url)
