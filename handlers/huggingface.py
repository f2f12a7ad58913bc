"""Hugging Face Hub webhooks: `X-Webhook-Secret` carries the secret verbatim; no event id.

Hugging Face signs nothing: the secret set on the webhook is sent as-is in `X-Webhook-Secret`
(ASCII only), compared here in constant time against each configured secret. (The Hub also allows
putting it in the URL as `?secret=`; that is not accepted, URLs end up in logs.)

Payloads carry no event id and no timestamp, so the dedup key is the SHA-256 of the body: a replay
from the webhook's Activity tab is answered `duplicate`. The event type is `<scope>.<action>` from
`event` (`repo.content.update`, `discussion.create`…). New content in a repository (commits, tags,
branches: scope `repo.content`) maps to `ai.repo.updated`; everything else passes through as
`huggingface.<scope>.<action>`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from typing_extensions import override

from ingest.handlers import base
from ingest.handlers.schemes.credentials import match_token
from ingest.schemas import ai
from ingest.sources import SourceConfig

SECRET_HEADER = "x-webhook-secret"  # noqa: S105 - a header name, not a secret
WORD = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
REPO_UPDATES = frozenset({"repo.content.update", "repo.content.create"})


def _event_type(document: Mapping[str, Any]) -> str:
    event = document.get("event")
    if not isinstance(event, dict):
        raise base.MalformedRequestError("payload has no 'event' object")
    scope, action = event.get("scope"), event.get("action")
    if not isinstance(scope, str) or not WORD.fullmatch(scope):
        raise base.MalformedRequestError("event.scope is not a short word")
    if not isinstance(action, str) or not WORD.fullmatch(action):
        raise base.MalformedRequestError("event.action is not a short word")
    return f"{scope}.{action}"


def _ref(raw: Any) -> ai.RepoRefUpdate:
    if not isinstance(raw, dict) or not isinstance(raw.get("ref"), str):
        raise ValueError("an updatedRefs entry has no 'ref'")
    return ai.RepoRefUpdate(
        ref=raw["ref"],
        old_sha=base.text_or_none(raw.get("oldSha")),
        new_sha=base.text_or_none(raw.get("newSha")),
    )


class HuggingFaceHandler(base.VendorHandler):
    vendor: ClassVar[str] = "huggingface"
    summary: ClassVar[str] = "X-Webhook-Secret: the webhook's secret, verbatim (constant-time)"
    signature_headers: ClassVar[tuple[str, ...]] = ("X-Webhook-Secret",)
    mapped_types: ClassVar[Mapping[str, str]] = {
        "repo.content.update": ai.RepoUpdated.event_type,
        "repo.content.create": ai.RepoUpdated.event_type,
    }

    @override
    def secret_problem(self, secret: str) -> str | None:
        # The Hub only sends ASCII secrets; a non-ASCII one could never match.
        return None if secret.isascii() else "must be ASCII"

    @override
    def verify(self, check: base.Verification) -> base.Verdict:
        request, source = check.request, check.source
        presented = request.headers.get(SECRET_HEADER)
        return base.Verdict(secret_index=match_token(presented, source.secrets, "X-Webhook-Secret"))

    @override
    def identify(self, request: base.InboundRequest, source: SourceConfig) -> base.Identity:
        event_type = _event_type(request.json_object())
        return base.Identity(event_id=request.body_digest(), event_type=event_type)

    @override
    def normalize(self, delivery: base.Delivery) -> list[base.Emitted]:
        document = delivery.json_object()
        repo = document.get("repo")
        repo_name = base.text_or_none(repo.get("name")) if isinstance(repo, dict) else None
        if delivery.event_type not in REPO_UPDATES:
            return [base.passthrough(delivery, document, key=repo_name)]
        if not isinstance(repo, dict) or repo_name is None:
            raise ValueError("repo.content event without repo.name")
        repo_type = base.text_or_none(repo.get("type"))
        if repo_type is None:
            raise ValueError("repo.content event without repo.type")
        url = repo.get("url")
        refs = document.get("updatedRefs") or []
        if not isinstance(refs, list):
            raise ValueError("updatedRefs is not a list")
        private = repo.get("private")
        data = ai.RepoUpdated(
            provider="huggingface",
            repo_type=repo_type,
            repo_name=repo_name,
            repo_id=base.text_or_none(repo.get("id")),
            head_sha=base.text_or_none(repo.get("headSha")),
            private=private if isinstance(private, bool) else None,
            url=base.text_or_none(url.get("web")) if isinstance(url, dict) else None,
            updated_refs=[_ref(ref) for ref in refs],
        )
        # Per repository, in order; "model/owner/name" so a model and a dataset never share a key.
        return [base.Emitted(data=data, key=f"{repo_type}/{repo_name}", subject=repo_name)]
