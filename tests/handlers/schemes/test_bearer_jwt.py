"""The bearer-JWT scheme on its own: tokens signed here with keys published in a JWKS, as Google
signs Pub/Sub push tokens; every way a token can be wrong is a 401, never a 500."""

from __future__ import annotations

import base64
import functools
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.handlers.base import (
    InvalidCredentialsError,
    InvalidSignatureError,
    MissingSignatureError,
    RejectedRequestError,
    TimestampOutOfToleranceError,
)
from ingest.handlers.schemes.bearer_jwt import BearerJwt
from ingest.simulation import keys
from ingest.simulation.gcs import local_jwks
from tests.handlers.kit import request

JWKS_URL = "https://keys.example/jwks"
ISSUER = "https://issuer.example"
AUDIENCE = "https://ingest.example/webhooks/s"
NOW = 1_800_000_000
TOLERANCE = 60
SCHEME = BearerJwt(vendor="Example", jwks_url=JWKS_URL, issuers=frozenset({ISSUER}))


@functools.cache
def _key(name: str) -> rsa.RSAPrivateKey:
    return keys.rsa_key()


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _key_set(*names: str) -> bytes:
    """A JWKS holding the public halves of the named keys, each under its name as `kid`."""
    entries = [local_jwks(_key(name).public_key(), kid=name)["keys"][0] for name in names]
    return json.dumps({"keys": entries}).encode()


def _token(kid: str = "current", signer: str | None = None, **claims: Any) -> str:
    body = {"iss": ISSUER, "aud": AUDIENCE, "iat": NOW - 10, "exp": NOW + 3600, **claims}
    return jwt.encode(body, _pem(_key(signer or kid)), algorithm="RS256", headers={"kid": kid})


def _claims(authorization: str | None, key_set: bytes | None = None) -> dict[str, Any]:
    headers = {} if authorization is None else {"authorization": authorization}
    documents = {JWKS_URL: _key_set("previous", "current") if key_set is None else key_set}
    return SCHEME.verified_claims(
        request(b"{}", headers),
        documents,
        now=NOW,
        tolerance_seconds=TOLERANCE,
        audience=AUDIENCE,
    )


def test_a_token_signed_by_any_key_of_the_set_verifies() -> None:
    for kid in ("current", "previous"):
        assert _claims(f"Bearer {_token(kid)}")["aud"] == AUDIENCE


def test_the_scheme_word_is_case_insensitive_and_an_audience_list_may_hold_ours() -> None:
    assert _claims(f"bearer {_token(aud=['other', AUDIENCE])}")["iss"] == ISSUER


@pytest.mark.parametrize(
    ("authorization", "error"),
    [
        (None, MissingSignatureError),
        ("   ", MissingSignatureError),
        ("Basic dXNlcjpwdw==", InvalidSignatureError),
        ("Bearer", InvalidSignatureError),
        ("Bearer not-a-jwt", InvalidSignatureError),
        ("Bearer \u00e9.\u00e9.\u00e9", InvalidSignatureError),
        ("Bearer " + "a" * 9000, InvalidSignatureError),
    ],
)
def test_no_token_or_no_jwt(authorization: str | None, error: type[Exception]) -> None:
    with pytest.raises(error):
        _claims(authorization)


def test_a_key_the_set_does_not_hold_is_refused() -> None:
    with pytest.raises(InvalidSignatureError, match="no key in Example's key set"):
        _claims(f"Bearer {_token('stranger')}")


def test_a_token_signed_by_another_key_under_a_known_kid_is_refused() -> None:
    with pytest.raises(InvalidSignatureError, match="does not verify"):
        _claims(f"Bearer {_token('current', signer='stranger')}")


def test_algorithm_confusion_is_refused() -> None:
    """`alg: none`, and HS256 keyed with the public key's bytes (the classic forgery when a
    verifier lets the token pick the algorithm)."""
    unsigned = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "iat": NOW, "exp": NOW + 60},
        "",  # alg none signs with nothing
        algorithm="none",
        headers={"kid": "current"},
    )
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","kid":"current","typ":"JWT"}').rstrip(b"=")
    for token in (unsigned, header.decode() + "." + _token().split(".", 1)[1]):
        with pytest.raises(InvalidSignatureError, match="not RS256"):
            _claims(f"Bearer {token}")


def test_the_key_set_must_be_there_and_well_formed() -> None:
    with pytest.raises(InvalidSignatureError, match="malformed"):
        _claims(f"Bearer {_token()}", key_set=b"not json")
    documents: dict[str, bytes] = {}
    with pytest.raises(InvalidSignatureError, match="not available"):
        SCHEME.verified_claims(
            request(b"{}", {"authorization": f"Bearer {_token()}"}),
            documents,
            now=NOW,
            tolerance_seconds=TOLERANCE,
            audience=AUDIENCE,
        )


@pytest.mark.parametrize(
    ("claims", "error"),
    [
        ({"iss": "https://evil.example"}, InvalidCredentialsError),
        ({"aud": "https://other.example"}, InvalidCredentialsError),
        ({"aud": ["https://other.example"]}, InvalidCredentialsError),
        ({"aud": None}, InvalidCredentialsError),
        ({"iat": "yesterday"}, InvalidSignatureError),
        ({"exp": True}, InvalidSignatureError),
    ],
)
def test_claims_that_do_not_hold(claims: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        _claims(f"Bearer {_token(**claims)}")


@settings(max_examples=60, deadline=None)
@given(offset=st.integers(min_value=-3 * TOLERANCE, max_value=3 * TOLERANCE))
def test_the_tolerance_holds_both_ways_and_no_further(offset: int) -> None:
    """Expired by more than the tolerance, or issued further than it in the future: refused;
    within it either way: accepted."""
    expired = _token(iat=NOW - 3600 + offset, exp=NOW + offset)
    early = _token(iat=NOW - offset, exp=NOW + 3600)
    for token, valid in ((expired, offset >= -TOLERANCE), (early, offset >= -TOLERANCE)):
        if valid:
            _claims(f"Bearer {token}")
        else:
            with pytest.raises(TimestampOutOfToleranceError):
                _claims(f"Bearer {token}")


@settings(max_examples=200, deadline=None)
@given(authorization=st.text(max_size=300))
def test_any_authorization_header_is_a_4xx_rejection(authorization: str) -> None:
    with pytest.raises(RejectedRequestError) as rejection:
        _claims(authorization)
    assert 400 <= rejection.value.status < 500
