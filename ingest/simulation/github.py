"""What `github` sends, simulated for `ingest send`, the benchmarks and the tests: sample bodies
with fresh ids, signed as the vendor signs them. The service never imports this to receive."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

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
    sample_types: ClassVar[tuple[str, ...]] = ("push", "pull_request", "ping", "issues")

    def sample(self, event_type: str | None) -> bytes:
        event_type = event_type or self.sample_types[0]
        repository = {
            "id": 1296269,
            "name": "hello-world",
            "full_name": "octocat/hello-world",
            "private": False,
            "owner": {"login": "octocat", "id": 1},
            "html_url": "https://github.com/octocat/hello-world",
            "default_branch": "main",
        }
        sender = {"login": "octocat", "id": 1, "type": "User"}
        now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        after = secrets.token_hex(20)
        payload: dict[str, Any]
        if event_type == "push":
            commit = {
                "id": after,
                "tree_id": secrets.token_hex(20),
                "message": "Fix the flux capacitor",
                "timestamp": now,
                "url": f"https://github.com/octocat/hello-world/commit/{after}",
                "author": {"name": "Mona Lisa", "email": "mona@example.com", "username": "octocat"},
                "committer": {
                    "name": "Mona Lisa",
                    "email": "mona@example.com",
                    "username": "octocat",
                },
                "added": [],
                "removed": [],
                "modified": ["README.md"],
            }
            payload = {
                "ref": "refs/heads/main",
                "before": secrets.token_hex(20),
                "after": after,
                "created": False,
                "deleted": False,
                "forced": False,
                "compare": "https://github.com/octocat/hello-world/compare/abc...def",
                "commits": [commit],
                "head_commit": commit,
                "repository": repository,
                "pusher": {"name": "octocat", "email": "octocat@example.com"},
                "sender": sender,
            }
        elif event_type == "pull_request":
            number = secrets.randbelow(10_000) + 1
            payload = {
                "action": "opened",
                "number": number,
                "pull_request": {
                    "number": number,
                    "state": "open",
                    "title": "Add a webhook inbox",
                    "html_url": f"https://github.com/octocat/hello-world/pull/{number}",
                    "user": {"login": "octocat", "id": 1},
                    "merged": False,
                    "head": {"ref": "feature/inbox", "sha": after},
                    "base": {"ref": "main", "sha": secrets.token_hex(20)},
                    "created_at": now,
                    "updated_at": now,
                },
                "repository": repository,
                "sender": sender,
            }
        elif event_type == "ping":
            payload = {
                "zen": "Design for failure.",
                "hook_id": 1,
                "hook": {"type": "Repository", "id": 1, "events": ["push", "pull_request"]},
                "repository": repository,
                "sender": sender,
            }
        else:
            payload = {
                "action": "opened",
                "issue": {"number": 1347, "title": "Found a bug", "state": "open"},
                "repository": repository,
                "sender": sender,
            }
        return json.dumps(payload, indent=2).encode()

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
