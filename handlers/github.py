"""GitHub: `X-Hub-Signature-256: sha256=<hex HMAC of the body>`; dedup on X-GitHub-Delivery.

GitHub signs no timestamp, so there is no tolerance; redeliveries carry the same delivery id and are
recognised by the inbox. A `ping` is the handshake sent when the hook is created: stored, never
published.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs

from ingest.handlers.base import (
    Delivery,
    Emitted,
    Identity,
    InboundRequest,
    MalformedRequestError,
    SignedRequest,
    SigningContext,
    VendorHandler,
    Verdict,
    WireError,
    parse_json,
    passthrough,
)
from ingest.handlers.schemes.hmac_signature import HmacSignature
from ingest.schemas.vcs import VcsCommit, VcsPullRequest, VcsPush
from ingest.sources import SourceConfig

SIGNATURE = HmacSignature(header="X-Hub-Signature-256", vendor="GitHub", prefix="sha256=")
LEGACY_SIGNATURE = HmacSignature(
    header="X-Hub-Signature", vendor="GitHub", algorithm="sha1", prefix="sha1="
)
"""Still sent beside the SHA-256 one; never verified (SHA-1), only simulated."""


def _payload(body: bytes) -> Any:
    """GitHub sends JSON, or `payload=<url-encoded JSON>` when the hook's content type is form."""
    if body.startswith(b"payload="):
        try:
            values = parse_qs(body.decode("utf-8"), strict_parsing=True).get("payload", [])
        except (UnicodeDecodeError, ValueError):
            raise MalformedRequestError("form body is not url-encoded UTF-8") from None
        if len(values) != 1:
            raise MalformedRequestError("form body must carry exactly one payload field")
        return parse_json(values[0].encode())
    return parse_json(body)


def _time(raw: Any) -> datetime | None:
    if isinstance(raw, int):
        return datetime.fromtimestamp(raw, tz=UTC)
    if isinstance(raw, str):
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(UTC)
    return None


class GitHubHandler(VendorHandler):
    vendor: ClassVar[str] = "github"
    summary: ClassVar[str] = "X-Hub-Signature-256: sha256=HMAC-SHA256 hex of the body"
    signature_headers: ClassVar[tuple[str, ...]] = ("X-Hub-Signature-256",)
    default_tolerance_seconds: ClassVar[int | None] = None
    mapped_types: ClassVar[Mapping[str, str]] = {
        "push": "vcs.push",
        "pull_request": "vcs.pull_request.<action>",
        "ping": "(handshake, not published)",
    }
    sample_types: ClassVar[tuple[str, ...]] = ("push", "pull_request", "ping", "issues")

    def verify(
        self,
        request: InboundRequest,
        source: SourceConfig,
        now: float,
        documents: Mapping[str, bytes],
    ) -> Verdict:
        return Verdict(secret_index=SIGNATURE.verify(request.headers, source.secrets, request.body))

    def delivery_id(self, request: InboundRequest) -> str | None:
        return request.headers.get("x-github-delivery", "").strip() or None

    def identify(self, request: InboundRequest, source: SourceConfig) -> Identity:
        delivery = request.headers.get("x-github-delivery", "").strip()
        event = request.headers.get("x-github-event", "").strip()
        # GitHub always sends both: without them the request is wrong on the wire, not a body
        # of unexpected shape (WireError is refused even though the signature verified).
        if not delivery or len(delivery) > 255:
            raise WireError("X-GitHub-Delivery header is missing")
        if not event or len(event) > 255:
            raise WireError("X-GitHub-Event header is missing")
        return Identity(event_id=delivery, event_type=event, handshake=event == "ping")

    def normalize(self, delivery: Delivery) -> list[Emitted]:
        payload = _payload(delivery.body)
        if not isinstance(payload, dict):
            raise ValueError("GitHub payload is not a JSON object")
        match delivery.event_type:
            case "ping":
                return []
            case "push":
                return [self._push(payload)]
            case "pull_request":
                return [self._pull_request(payload)]
            case _:
                return [passthrough(delivery, payload)]

    @staticmethod
    def _push(payload: dict[str, Any]) -> Emitted:
        repository = payload["repository"]["full_name"]
        commits = [
            VcsCommit(
                id=commit["id"],
                message=commit.get("message", ""),
                author_name=(commit.get("author") or {}).get("name"),
                author_email=(commit.get("author") or {}).get("email"),
                url=commit.get("url"),
                timestamp=_time(commit.get("timestamp")),
            )
            for commit in payload.get("commits") or []
        ]
        data = VcsPush(
            provider="github",
            repository=repository,
            ref=payload["ref"],
            before=payload["before"],
            after=payload["after"],
            created=bool(payload.get("created")),
            deleted=bool(payload.get("deleted")),
            forced=bool(payload.get("forced")),
            pusher=(payload.get("pusher") or {}).get("name"),
            commits=commits,
        )
        pushed_at = _time((payload.get("head_commit") or {}).get("timestamp"))
        return Emitted(
            type=VcsPush.event_type, data=data, key=repository, subject=data.ref, time=pushed_at
        )

    @staticmethod
    def _pull_request(payload: dict[str, Any]) -> Emitted:
        repository = payload["repository"]["full_name"]
        pull = payload["pull_request"]
        merged = bool(pull.get("merged"))
        action = payload["action"]
        data = VcsPullRequest(
            provider="github",
            repository=repository,
            number=pull["number"],
            action=action,
            title=pull.get("title", ""),
            state=pull.get("state", ""),
            merged=merged,
            author=(pull.get("user") or {}).get("login"),
            url=pull.get("html_url"),
            head_ref=(pull.get("head") or {}).get("ref"),
            head_sha=(pull.get("head") or {}).get("sha"),
            base_ref=(pull.get("base") or {}).get("ref"),
            updated_at=_time(pull.get("updated_at")),
        )
        verb = "merged" if action == "closed" and merged else action
        return Emitted(
            type=f"vcs.pull_request.{verb}",
            data=data,
            key=f"{repository}#{data.number}",
            subject=str(data.number),
            time=data.updated_at,
        )

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
