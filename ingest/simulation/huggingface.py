"""What `huggingface` sends, simulated for `ingest send`, the benchmarks and the tests: sample
bodies with fresh ids, signed as the vendor signs them. The service never imports this to
receive."""

from __future__ import annotations

import json
import secrets
from typing import Any, ClassVar

from ingest.handlers.huggingface import HuggingFaceHandler
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


class HuggingFaceSimulator(Simulator[HuggingFaceHandler]):
    vendor: ClassVar[str] = HuggingFaceHandler.vendor
    sample_types: ClassVar[tuple[str, ...]] = (
        "repo.content.update",
        "repo.create",
        "discussion.create",
    )

    def sample(self, event_type: str | None) -> bytes:
        """Hugging Face's documented payloads (the Hub webhooks guide), with fresh ids and SHAs."""
        event_type = event_type or self.sample_types[0]
        scope, _, action = event_type.rpartition(".")
        head = secrets.token_hex(20)
        repo: dict[str, Any] = {
            "type": "model",
            "name": "some-user/some-repo",
            "id": secrets.token_hex(12),
            "private": False,
            "url": {
                "web": "https://huggingface.co/some-user/some-repo",
                "api": "https://huggingface.co/api/models/some-user/some-repo",
            },
            "owner": {"id": secrets.token_hex(12)},
        }
        document: dict[str, Any] = {"event": {"action": action, "scope": scope}, "repo": repo}
        if scope.startswith("repo"):
            repo["headSha"] = head
            repo["tags"] = ["license:other", "has_space"]
        if scope == "repo.content":
            document["updatedRefs"] = [
                {"ref": "refs/heads/main", "oldSha": secrets.token_hex(20), "newSha": head}
            ]
        if scope.startswith("discussion"):
            number = secrets.randbelow(1000) + 1
            document["discussion"] = {
                "id": secrets.token_hex(12),
                "title": "Update co2 emissions",
                "url": {
                    "web": f"https://huggingface.co/some-user/some-repo/discussions/{number}",
                    "api": f"https://huggingface.co/api/models/some-user/some-repo/discussions/{number}",
                },
                "status": "open",
                "author": {"id": secrets.token_hex(12)},
                "num": number,
                "isPullRequest": True,
                "changes": {"base": "refs/heads/main"},
            }
            document["comment"] = {
                "id": secrets.token_hex(12),
                "author": {"id": secrets.token_hex(12)},
                "content": "Add co2 emissions information to the model card",
                "hidden": False,
            }
        document["webhook"] = {"id": secrets.token_hex(12), "version": 3}
        return json.dumps(document, indent=2).encode()

    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        headers = {"Content-Type": "application/json", "X-Webhook-Secret": context.secret or ""}
        return SignedRequest(headers=headers, body=body, url=context.url)
