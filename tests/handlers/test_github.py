from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.handlers.base import (
    Delivery,
    InvalidSignatureError,
    MalformedRequestError,
    MissingSignatureError,
    RejectedRequestError,
    Verification,
)
from ingest.handlers.github import GitHubHandler
from ingest.schemas.passthrough import VendorPassthrough
from ingest.schemas.vcs import VcsPullRequest, VcsPush
from ingest.simulation import simulator
from ingest.simulation.base import SigningContext
from ingest.sources import SourceConfig
from tests.handlers.contract import HOSTILE_VALUES, assert_only_rejections
from tests.handlers.kit import URL, identify, request, sign_headers, verify

handler = GitHubHandler()
SECRET = "It's a Secret to Everybody"
source = SourceConfig(name="github", vendor="github", secrets=(SECRET,))


def test_githubs_documented_example() -> None:
    """The example in GitHub's "Validating webhook deliveries" documentation."""
    header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    verdict = verify(handler, b"Hello, World!", {"x-hub-signature-256": header}, source, 0)
    assert verdict.secret_index == 0


def test_signed_sample_is_accepted_and_rotation_is_reported() -> None:
    body = simulator(handler).sample("push")
    headers = {k.lower(): v for k, v in sign_headers(handler, body, SECRET, 0, "push").items()}
    rotating = SourceConfig(name="github", vendor="github", secrets=("old", SECRET))
    assert verify(handler, body, headers, rotating, 0).secret_index == 1


def test_uppercase_hex_is_accepted() -> None:
    digest = hmac.new(SECRET.encode(), b"{}", hashlib.sha256).hexdigest().upper()
    assert (
        verify(handler, b"{}", {"x-hub-signature-256": f"sha256={digest}"}, source, 0).secret_index
        == 0
    )


def test_tampered_body_and_wrong_secret_are_rejected() -> None:
    body = simulator(handler).sample("push")
    headers = {k.lower(): v for k, v in sign_headers(handler, body, SECRET, 0).items()}
    with pytest.raises(InvalidSignatureError):
        verify(handler, body + b" ", headers, source, 0)
    wrong = {k.lower(): v for k, v in sign_headers(handler, body, "nope", 0).items()}
    with pytest.raises(InvalidSignatureError):
        verify(handler, body, wrong, source, 0)


def test_sha1_only_is_missing_the_sha256_signature() -> None:
    legacy = hmac.new(SECRET.encode(), b"{}", hashlib.sha1).hexdigest()
    with pytest.raises(MissingSignatureError):
        verify(handler, b"{}", {"x-hub-signature": f"sha1={legacy}"}, source, 0)


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_malformed_headers_are_rejected_not_crashed(value: str) -> None:
    assert_only_rejections(handler, source, b"{}", {"x-hub-signature-256": value}, 0)


def test_identify_needs_delivery_and_event_headers() -> None:
    identity = identify(handler, b"{}", {"x-github-delivery": "72d3162e", "x-github-event": "push"})
    assert (identity.event_id, identity.event_type) == ("72d3162e", "push")
    with pytest.raises(MalformedRequestError):
        identify(handler, b"{}", {"x-github-event": "push"})


def delivery(event_type: str, body: bytes) -> Delivery:
    return Delivery("github", "github", "d-1", event_type, body, datetime.now(UTC))


def test_push_normalizes() -> None:
    body = simulator(handler).sample("push")
    [event] = handler.normalize(delivery("push", body))
    payload = json.loads(body)
    assert event.type == "vcs.push"
    assert isinstance(event.data, VcsPush)
    assert event.key == "octocat/hello-world"
    assert event.data.after == payload["after"]
    assert [c.id for c in event.data.commits] == [payload["commits"][0]["id"]]


def test_form_encoded_push_normalizes_the_same() -> None:
    body = simulator(handler).sample("push")
    form = urlencode({"payload": body.decode()}).encode()
    assert (
        handler.normalize(delivery("push", form))[0].data
        == handler.normalize(delivery("push", body))[0].data
    )


def test_pull_request_merged() -> None:
    payload = json.loads(simulator(handler).sample("pull_request"))
    payload["action"] = "closed"
    payload["pull_request"]["merged"] = True
    [event] = handler.normalize(delivery("pull_request", json.dumps(payload).encode()))
    assert event.type == "vcs.pull_request.merged"
    assert isinstance(event.data, VcsPullRequest)
    assert event.key == f"octocat/hello-world#{payload['number']}"


def test_ping_is_a_handshake_and_publishes_nothing() -> None:
    assert handler.normalize(delivery("ping", simulator(handler).sample("ping"))) == []


def test_other_events_pass_through() -> None:
    [event] = handler.normalize(delivery("issues", simulator(handler).sample("issues")))
    assert event.type == "github.issues"
    assert isinstance(event.data, VendorPassthrough)


# -- cross-checked against gidgethub's verifier -------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(max_size=2000),
    secret=st.text(min_size=1, max_size=40),
    tamper=st.sampled_from(["none", "body", "secret", "digit"]),
)
def test_a_signature_is_accepted_exactly_when_gidgethub_accepts_it(
    body: bytes, secret: str, tamper: str
) -> None:
    """gidgethub (a maintained GitHub library) validates X-Hub-Signature-256 as GitHub
    documents; what our simulator signs it accepts, and on anything tampered we agree."""
    from gidgethub import ValidationFailure  # noqa: PLC0415 - a dev-only cross-check
    from gidgethub.sansio import validate_event  # noqa: PLC0415

    source = SourceConfig(name="github", vendor="github", secrets=(secret,))
    context = SigningContext(source=source, url=URL, secret=secret)
    headers = {k.lower(): v for k, v in simulator(handler).sign(body, context, 0).headers.items()}
    received, configured = body, secret
    if tamper == "body":
        received = body + b"!"
    elif tamper == "secret":
        configured = secret + "x"
    elif tamper == "digit":
        value = headers["x-hub-signature-256"]
        headers["x-hub-signature-256"] = value[:-1] + ("0" if value[-1] != "0" else "1")
    try:
        validate_event(received, signature=headers["x-hub-signature-256"], secret=configured)
    except ValidationFailure:
        gidgethub_accepts = False
    else:
        gidgethub_accepts = True
    checked = SourceConfig(name="github", vendor="github", secrets=(configured,))
    try:
        handler.verify(Verification(request(received, headers), checked, 0, {}))
    except RejectedRequestError:
        we_accept = False
    else:
        we_accept = True
    assert we_accept == gidgethub_accepts
    assert gidgethub_accepts == (tamper == "none")
