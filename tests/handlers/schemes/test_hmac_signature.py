"""The HMAC scheme every HMAC vendor declares: parsing, encodings, several secrets and several
signatures, constant-time comparison, and hostile headers (always a 4xx, never a crash)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.handlers.base import (
    InboundRequest,
    InvalidSignatureError,
    MissingSignatureError,
    RejectedRequestError,
)
from ingest.handlers.schemes.hmac_signature import HmacSignature
from tests.handlers.kit import request

BODY = b'{"id": "evt_1", "amount": 100}'
GITHUB = HmacSignature(header="X-Hub-Signature-256", vendor="GitHub", prefix="sha256=")
SHOPIFY = HmacSignature(header="X-Shopify-Hmac-Sha256", vendor="Shopify", encoding="base64")
ROTATING = HmacSignature(header="X-Sig", vendor="Test", prefix="v1=", separator=",")
SCHEMES = [
    GITHUB,
    SHOPIFY,
    ROTATING,
    HmacSignature(header="X-Signature", vendor="Segment", algorithm="sha1"),
    HmacSignature(header="X-Sig", vendor="Test", algorithm="sha512", encoding="base64"),
]


def headers(scheme: HmacSignature, value: str) -> InboundRequest:
    """A request carrying `value` in the scheme's header (its latin-1 bytes, as received)."""
    return request(BODY, {scheme.header.lower(): value})


def test_githubs_documented_example() -> None:
    # docs.github.com, "Validating webhook deliveries": secret, payload and signature.
    scheme = GITHUB
    value = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert (
        scheme.verify(headers(scheme, value), ["It's a Secret to Everybody"], b"Hello, World!") == 0
    )


def test_the_values_it_writes_are_the_ones_hmac_computes() -> None:
    key, content = "secret", b"payload"
    digest = hmac.new(key.encode(), content, hashlib.sha256).digest()
    assert GITHUB.header_value(key, content) == "sha256=" + digest.hex()
    assert SHOPIFY.header_value(key, content) == base64.b64encode(digest).decode()


@pytest.mark.parametrize("scheme", SCHEMES, ids=lambda s: f"{s.algorithm}-{s.encoding}")
def test_each_configured_secret_is_tried_and_the_matching_one_named(scheme: HmacSignature) -> None:
    secrets = ["old-secret", "new-secret", "newest"]
    for index, secret in enumerate(secrets):
        value = scheme.header_value(secret, BODY)
        assert scheme.verify(headers(scheme, value), secrets, BODY) == index
    with pytest.raises(InvalidSignatureError, match=r"no .* signature matches"):
        scheme.verify(headers(scheme, scheme.header_value("other", BODY)), secrets, BODY)


def test_hex_is_accepted_in_either_case_and_surrounding_space_is_ignored() -> None:
    value = GITHUB.header_value("s", BODY)
    assert (
        GITHUB.verify(
            headers(GITHUB, "  " + value.upper().replace("SHA256=", "sha256=")), ["s"], BODY
        )
        == 0
    )


def test_any_offered_signature_that_matches_verifies() -> None:
    good = ROTATING.header_value("s", BODY)
    value = f"v0=deadbeef,v1={'00' * 32},{good}, t=123"
    assert ROTATING.verify(headers(ROTATING, value), ["s"], BODY) == 0


def test_one_content_of_several_may_be_the_signed_one() -> None:
    # Twilio: the URL with or without its default port.
    signed = b"https://example.com:443/hook"
    value = SHOPIFY.header_value("s", signed)
    offered = SHOPIFY.offered(headers(SHOPIFY, value))
    assert SHOPIFY.matching_secret(["x", "s"], [b"https://example.com/hook", signed], offered) == 1


def test_every_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each expected MAC is compared with every offered one through hmac.compare_digest, and
    nothing else decides: a mismatch's position cannot change the time a refusal takes."""
    calls: list[tuple[bytes, bytes]] = []
    compare = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)  # the module calls hmac.compare_digest
    value = ",".join(ROTATING.header_value(f"wrong{i}", BODY) for i in range(3))
    with pytest.raises(InvalidSignatureError):
        ROTATING.verify(headers(ROTATING, value), ["a", "b"], BODY)
    assert len(calls) == 2 * 3
    assert all(len(a) == len(b) == 32 for a, b in calls)


@pytest.mark.parametrize("value", ["", "   "])
def test_an_absent_or_blank_header_is_missing(value: str) -> None:
    with pytest.raises(MissingSignatureError):
        GITHUB.verify(headers(GITHUB, value) if value else request(BODY, {}), ["s"], BODY)


@pytest.mark.parametrize(
    "value",
    [
        "sha256=",
        "sha1=" + "ab" * 20,  # another algorithm's prefix
        "sha256=" + "ab" * 31,  # too short for SHA-256
        "sha256=" + "ab" * 33,
        "sha256=" + "zz" * 32,
        "sha256=" + "a" * 63,
        "sha256=" + "ab" * 32 + "é",
        "sha256=" + "ab" * 5000,
    ],
)
def test_a_malformed_header_is_an_invalid_signature(value: str) -> None:
    with pytest.raises(InvalidSignatureError):
        GITHUB.verify(headers(GITHUB, value), ["s"], BODY)


@pytest.mark.parametrize("value", ["not base64!", "YWJj", "YWJj===", "=" * 44, "\u00a0" * 44])
def test_malformed_base64_is_an_invalid_signature(value: str) -> None:
    with pytest.raises(InvalidSignatureError):
        SHOPIFY.verify(headers(SHOPIFY, value), ["s"], BODY)


@settings(max_examples=400, deadline=None)
@given(
    scheme=st.sampled_from(SCHEMES),
    value=st.text(max_size=300) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    secrets=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=3),
)
def test_any_header_value_is_a_4xx_or_a_match(
    scheme: HmacSignature, value: str, secrets: list[str]
) -> None:
    try:
        index = scheme.verify(headers(scheme, value), secrets, BODY)
    except RejectedRequestError as exc:
        status = exc.status
    else:  # only possible if hypothesis found a real MAC, which would be remarkable
        assert scheme.header_value(secrets[index], BODY) in value
        return
    assert 400 <= status < 500


@settings(max_examples=200, deadline=None)
@given(
    scheme=st.sampled_from(SCHEMES),
    secret=st.text(min_size=1, max_size=40),
    body=st.binary(max_size=500),
    tampered=st.binary(min_size=1, max_size=500),
)
def test_a_signature_verifies_its_own_content_only(
    scheme: HmacSignature, secret: str, body: bytes, tampered: bytes
) -> None:
    value = scheme.header_value(secret, body)
    assert scheme.verify(headers(scheme, value), [secret], body) == 0
    if tampered != body:
        with pytest.raises(InvalidSignatureError):
            scheme.verify(headers(scheme, value), [secret], tampered)
