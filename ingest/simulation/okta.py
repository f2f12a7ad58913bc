"""What `okta` sends, simulated for `ingest send`, the benchmarks and the tests: the bodies are data
(`samples/okta.json`), signed here as the vendor signs them. The service never imports this."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from typing_extensions import override

from ingest.handlers.okta import OktaHandler
from ingest.handlers.schemes.credentials import TokenInHeader
from ingest.simulation import templates
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


def sample_event(
    event_type: str, *, published: str | None = None, result: str = "SUCCESS"
) -> dict[str, Any]:
    """One System Log event, for tests that batch their own: the sample of that type from
    `samples/okta.json`, or of its kind (an admin acting on a user, else a sign-in) retyped."""
    known = templates.samples(OktaHandler.vendor)
    if event_type in known:
        template = known[event_type]
    elif event_type.startswith(("user.lifecycle.", "user.account.", "group.")):
        template = known["user.lifecycle.create"]
    else:
        template = known["user.session.start"]
    event: dict[str, Any] = templates.render(template, templates.Fresh(time.time()))["data"][
        "events"
    ][0]
    event["eventType"] = event_type
    if published is not None:
        event["published"] = published
    if result != "SUCCESS":
        event["outcome"] = {"result": result, "reason": "INVALID_CREDENTIALS"}
    return event


class OktaSimulator(Simulator[OktaHandler]):
    vendor: ClassVar[str] = OktaHandler.vendor

    @override
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
