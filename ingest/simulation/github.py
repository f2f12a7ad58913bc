"""What `github` sends, simulated for `ingest send`, the benchmarks and the tests: the bodies are
data (`samples/github.json`), signed here as the vendor signs them. The service never imports
this."""

from __future__ import annotations

import json
import uuid
from typing import ClassVar

from typing_extensions import override

from ingest.handlers.github import LEGACY_SIGNATURE, SIGNATURE, GitHubHandler
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


def _guess_event(body: bytes) -> str:
    """For `ingest send --file` without `--type`: the event whose payload this looks like."""
    try:
        payload = json.loads(body)
    except ValueError:
        return "push"
    if isinstance(payload, dict):
        for key, event in (("zen", "ping"), ("pull_request", "pull_request"), ("issue", "issues")):
            if key in payload:
                return event
    return "push"


class GitHubSimulator(Simulator[GitHubHandler]):
    vendor: ClassVar[str] = GitHubHandler.vendor

    @override
    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        secret = context.secret or ""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/7d4c2a1",
            "X-GitHub-Event": event_type or _guess_event(body),
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-GitHub-Hook-ID": "1",
            LEGACY_SIGNATURE.header: LEGACY_SIGNATURE.header_value(secret, body),
            SIGNATURE.header: SIGNATURE.header_value(secret, body),
        }
        return SignedRequest(headers=headers, body=body, url=context.url)
