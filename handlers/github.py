"""GitHub: `X-Hub-Signature-256: sha256=<hex HMAC of the body>`; dedup on X-GitHub-Delivery.

GitHub signs no timestamp, so there is no tolerance; redeliveries carry the same delivery id and are
recognised by the inbox. A `ping` is the handshake sent when the hook is created: stored, never
published.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs

from typing_extensions import override

from ingest.handlers import base
from ingest.handlers.schemes.hmac_signature import HmacSignature, HmacVerified
from ingest.schemas import vcs
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
            raise base.MalformedRequestError("form body is not url-encoded UTF-8") from None
        if len(values) != 1:
            raise base.MalformedRequestError("form body must carry exactly one payload field")
        return base.parse_json(values[0].encode())
    return base.parse_json(body)


def _time(raw: Any) -> datetime | None:
    if isinstance(raw, int):
        return datetime.fromtimestamp(raw, tz=UTC)
    if isinstance(raw, str):
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(UTC)
    return None


class GitHubHandler(HmacVerified):
    vendor: ClassVar[str] = "github"
    summary: ClassVar[str] = "X-Hub-Signature-256: sha256=HMAC-SHA256 hex of the body"
    signature: ClassVar[HmacSignature] = SIGNATURE
    mapped_types: ClassVar[Mapping[str, str]] = {
        "push": "vcs.push",
        "pull_request": "vcs.pull_request.<action>",
        "ping": "(handshake, not published)",
    }

    @override
    def delivery_id(self, request: base.InboundRequest) -> str | None:
        return request.headers.get("x-github-delivery", "").strip() or None

    @override
    def identify(self, request: base.InboundRequest, source: SourceConfig) -> base.Identity:
        delivery = request.headers.get("x-github-delivery", "").strip()
        event = request.headers.get("x-github-event", "").strip()
        # GitHub always sends both: without them the request is wrong on the wire, not a body
        # of unexpected shape (WireError is refused even though the signature verified).
        if not delivery or len(delivery) > 255:
            raise base.WireError("X-GitHub-Delivery header is missing")
        if not event or len(event) > 255:
            raise base.WireError("X-GitHub-Event header is missing")
        return base.Identity(event_id=delivery, event_type=event, handshake=event == "ping")

    @override
    def normalize(self, delivery: base.Delivery) -> list[base.Emitted]:
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
                return [base.passthrough(delivery, payload)]

    @staticmethod
    def _push(payload: dict[str, Any]) -> base.Emitted:
        repository = payload["repository"]["full_name"]
        commits = [
            vcs.VcsCommit(
                id=commit["id"],
                message=commit.get("message", ""),
                author_name=(commit.get("author") or {}).get("name"),
                author_email=(commit.get("author") or {}).get("email"),
                url=commit.get("url"),
                timestamp=_time(commit.get("timestamp")),
            )
            for commit in payload.get("commits") or []
        ]
        data = vcs.VcsPush(
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
        return base.Emitted(data=data, key=repository, subject=data.ref, time=pushed_at)

    @staticmethod
    def _pull_request(payload: dict[str, Any]) -> base.Emitted:
        repository = payload["repository"]["full_name"]
        pull = payload["pull_request"]
        merged = bool(pull.get("merged"))
        action = payload["action"]
        data = vcs.VcsPullRequest(
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
        return base.Emitted(
            type=f"vcs.pull_request.{verb}",
            data=data,
            key=f"{repository}#{data.number}",
            subject=str(data.number),
            time=data.updated_at,
        )
