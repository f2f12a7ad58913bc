"""What `slack` sends, simulated for `ingest send`, the benchmarks and the tests: the bodies are
data (`samples/slack.json`), signed here as the vendor signs them. The service never imports
this."""

from __future__ import annotations

from typing import ClassVar

from typing_extensions import override

from ingest.handlers.slack import SIGNATURE, SlackHandler
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


class SlackSimulator(Simulator[SlackHandler]):
    vendor: ClassVar[str] = SlackHandler.vendor

    @override
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
