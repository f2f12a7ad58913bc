from __future__ import annotations

import contextlib
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import ConfigError
from ingest.handlers.base import (
    Delivery,
    InboundRequest,
    InvalidCredentialsError,
    MalformedRequestError,
    MissingCredentialsError,
    RejectedRequestError,
    Verification,
)
from ingest.handlers.huggingface import HuggingFaceHandler
from ingest.redaction import REDACTED, redact_headers
from ingest.schemas.ai import RepoRefUpdate, RepoUpdated
from ingest.schemas.passthrough import VendorPassthrough
from ingest.simulation import simulator
from ingest.sources import SourceConfig
from tests.handlers.contract import HOSTILE_VALUES
from tests.handlers.kit import identify, request, sign_headers, verify

handler = HuggingFaceHandler()
SECRET = "hf-webhook-secret-value"
OTHER = "hf-webhook-secret-older"
NOW = 1_700_000_000
source = SourceConfig(name="hf", vendor="huggingface", secrets=(SECRET,))

# Assembled from the Hub's webhooks documentation: the documented `repo` object (with headSha),
# the documented `updatedRefs`, under `event` {action: update, scope: repo.content}.
REPO = {
    "type": "model",
    "name": "some-user/some-repo",
    "id": "6366c000a2abcdf2fd69a080",
    "private": False,
    "url": {
        "web": "https://huggingface.co/some-user/some-repo",
        "api": "https://huggingface.co/api/models/some-user/some-repo",
    },
    "headSha": "c379e821c9c95d613899e8c4343e4bfee2b0c600",
    "tags": ["license:other", "has_space"],
    "owner": {"id": "61d2000c3c2083e1c08af22d"},
}
CONTENT_UPDATE: dict[str, Any] = {
    "event": {"action": "update", "scope": "repo.content"},
    "repo": REPO,
    "updatedRefs": [
        {
            "ref": "refs/heads/main",
            "oldSha": "ce9a4674fa833a68d5a73ec355f0ea95eedd60b7",
            "newSha": "575db8b7a51b6f85eb06eee540738584589f131c",
        },
        {
            "ref": "refs/tags/test",
            "oldSha": None,
            "newSha": "575db8b7a51b6f85eb06eee540738584589f131c",
        },
    ],
    "webhook": {"id": "6390e855e30d9209411de93b", "version": 3},
}
BODY = json.dumps(CONTENT_UPDATE).encode()


def delivery(body: bytes) -> Delivery:
    identity = identify(handler, body, {})
    return Delivery(
        "hf", "huggingface", identity.event_id, identity.event_type, body, datetime.now(UTC)
    )


def test_the_secret_header_is_accepted() -> None:
    assert verify(handler, BODY, {"X-Webhook-Secret": SECRET}, source, NOW).secret_index == 0


def test_what_sign_sends_is_accepted() -> None:
    body = simulator(handler).sample("discussion.create")
    headers = sign_headers(handler, body, SECRET, NOW)
    assert verify(handler, body, headers, source, NOW).secret_index == 0


def test_rotation() -> None:
    rotating = SourceConfig(name="hf", vendor="huggingface", secrets=(OTHER, SECRET))
    assert verify(handler, BODY, {"X-Webhook-Secret": SECRET}, rotating, NOW).secret_index == 1


@pytest.mark.parametrize("value", [OTHER, SECRET[:-1], SECRET + "x", SECRET.upper()])
def test_wrong_secret_is_rejected(value: str) -> None:
    with pytest.raises(InvalidCredentialsError):
        verify(handler, BODY, {"X-Webhook-Secret": value}, source, NOW)


def test_missing_secret_and_the_query_parameter_is_not_accepted() -> None:
    with pytest.raises(MissingCredentialsError):
        verify(handler, BODY, {}, source, NOW)
    inbound = request(BODY, {}, url=f"https://ingest.example.com/webhooks/hf?secret={SECRET}")
    with pytest.raises(MissingCredentialsError):
        handler.verify(Verification(inbound, source, NOW, {}))


def test_the_secret_header_is_redacted_in_the_inbox() -> None:
    assert redact_headers({"x-webhook-secret": SECRET}) == {"x-webhook-secret": REDACTED}


def test_non_ascii_secrets_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"secrets\[0\]"):
        handler.check_config(SourceConfig(name="hf", vendor="huggingface", secrets=("clé",)))


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_malformed_headers_are_rejected_not_crashed(value: str) -> None:
    with pytest.raises(RejectedRequestError) as caught:
        verify(handler, BODY, {"X-Webhook-Secret": value}, source, NOW)
    assert caught.value.code in {"invalid_credentials", "missing_credentials"}


def test_identify_hashes_the_body_and_types_scope_and_action() -> None:
    identity = identify(handler, BODY, {})
    assert identity.event_id == hashlib.sha256(BODY).hexdigest()
    assert identity.event_type == "repo.content.update"
    for bad in (
        b"[]",
        b'{"repo": {}}',
        b'{"event": {"scope": "repo"}}',
        b'{"event": {"scope": "Repo Content", "action": "update"}}',
        b'{"event": {"scope": "repo", "action": 1}}',
    ):
        with pytest.raises(MalformedRequestError):
            identify(handler, bad, {})


def test_repo_content_update_normalizes() -> None:
    [event] = handler.normalize(delivery(BODY))
    assert event.type == "ai.repo.updated"
    assert isinstance(event.data, RepoUpdated)
    assert (event.data.repo_type, event.data.repo_name) == ("model", "some-user/some-repo")
    assert event.data.head_sha == REPO["headSha"]
    assert event.data.url == "https://huggingface.co/some-user/some-repo"
    assert event.data.updated_refs[1] == RepoRefUpdate(
        ref="refs/tags/test", old_sha=None, new_sha="575db8b7a51b6f85eb06eee540738584589f131c"
    )
    assert event.key == "model/some-user/some-repo"


def test_documented_pull_request_event_passes_through() -> None:
    body = simulator(handler).sample("discussion.create")
    [event] = handler.normalize(delivery(body))
    assert event.type == "huggingface.discussion.create"
    assert isinstance(event.data, VendorPassthrough)
    assert event.data.payload == json.loads(body)
    assert event.key == "some-user/some-repo"


def test_repo_create_passes_through() -> None:
    [event] = handler.normalize(delivery(simulator(handler).sample("repo.create")))
    assert event.type == "huggingface.repo.create"


def test_content_update_without_repo_name_raises_so_the_event_is_marked_failed() -> None:
    body = json.dumps({**CONTENT_UPDATE, "repo": {"type": "model"}}).encode()
    with pytest.raises(ValueError, match=r"repo\.name"):
        handler.normalize(delivery(body))


@settings(max_examples=200, deadline=None)
@given(
    secret=st.one_of(st.none(), st.text(max_size=60), st.just(SECRET)),
    body=st.one_of(st.binary(max_size=300), st.just(BODY)),
)
def test_random_headers_and_bodies_only_ever_reject(secret: str | None, body: bytes) -> None:
    inbound = request(body, {} if secret is None else {"X-Webhook-Secret": secret})
    with contextlib.suppress(RejectedRequestError):
        handler.verify(Verification(inbound, source, NOW, {}))
    with contextlib.suppress(MalformedRequestError):
        handler.identify(inbound, source)


def test_a_scope_or_action_ending_in_a_newline_is_not_a_word() -> None:
    """`$` alone matches before a final newline; the type must be matched whole."""
    for event in ({"scope": "repo\n", "action": "update"}, {"scope": "repo", "action": "update\n"}):
        body = json.dumps({"event": event}).encode()
        with pytest.raises(MalformedRequestError, match="is not a short word"):
            handler.identify(InboundRequest("POST", "https://x/", {}, body), source)
