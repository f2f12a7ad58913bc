from __future__ import annotations

import base64
import contextlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import transport
from google.oauth2 import id_token
from hypothesis import given, settings
from hypothesis import strategies as st
from typing_extensions import override

from ingest.errors import ConfigError
from ingest.handlers.base import (
    Delivery,
    InvalidCredentialsError,
    InvalidSignatureError,
    MalformedRequestError,
    MissingSignatureError,
    RejectedRequestError,
    TimestampOutOfToleranceError,
    Verification,
)
from ingest.handlers.gcs import GOOGLE_JWKS_URL, GcsHandler
from ingest.schemas.passthrough import VendorPassthrough
from ingest.schemas.storage import StorageObjectCreated, StorageObjectDeleted
from ingest.simulation import simulator
from ingest.simulation.base import SigningContext
from ingest.simulation.gcs import local_jwks
from ingest.sources import RawOptions, SourceConfig
from tests.handlers.contract import HOSTILE_VALUES, assert_only_rejections
from tests.handlers.kit import URL, identify, request, verify

handler = GcsHandler()
# The claims of Google's documented example token (Pub/Sub docs, "Authentication for push
# subscriptions"): Google's own signature cannot be checked offline (its keys rotate), so the
# same claims are signed here with a local key published in a JWKS of Google's shape.
AUDIENCE = "https://example.com"
EMAIL = "gae-gcp@appspot.gserviceaccount.com"
IAT = 1550182335
DOC_CLAIMS: dict[str, Any] = {
    "aud": AUDIENCE,
    "azp": "113774264463038321964",
    "email": EMAIL,
    "sub": "113774264463038321964",
    "email_verified": True,
    "exp": 1550185935,
    "iat": IAT,
    "iss": "https://accounts.google.com",
}
NOW = IAT + 60
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = "7d680d8c70d44e947133cbd499ebc1a61c3d5abc"
JWKS = json.dumps(local_jwks(KEY.public_key(), KID)).encode()
DOCS = {GOOGLE_JWKS_URL: JWKS}
source = SourceConfig(
    name="gcs",
    vendor="gcs",
    options=RawOptions.of({"audience": AUDIENCE, "service_account_email": EMAIL}),
)
BODY = simulator(handler).sample("OBJECT_FINALIZE")


def token(
    claims: dict[str, Any] | None = None, key: Any = KEY, kid: str = KID, **extra: Any
) -> str:
    return jwt.encode(
        {**DOC_CLAIMS, **(claims or {})}, key, algorithm="RS256", headers={"kid": kid, **extra}
    )


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def test_documented_claims_verify() -> None:
    verdict = verify(handler, BODY, bearer(token()), source, NOW, DOCS)
    assert verdict.signed_at == IAT


def test_both_google_issuers_are_accepted() -> None:
    headers = bearer(token({"iss": "accounts.google.com"}))
    assert verify(handler, BODY, headers, source, NOW, DOCS)


@pytest.mark.parametrize(
    ("claims", "error"),
    [
        ({"aud": "https://other.example.com"}, InvalidCredentialsError),
        ({"iss": "https://evil.example.com"}, InvalidCredentialsError),
        ({"email": "someone@example.iam.gserviceaccount.com"}, InvalidCredentialsError),
        ({"email_verified": False}, InvalidCredentialsError),
        ({"email_verified": "true"}, InvalidCredentialsError),
        ({"exp": "soon"}, InvalidSignatureError),
        ({"iat": None}, InvalidSignatureError),
    ],
)
def test_each_claim_is_checked(claims: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        verify(handler, BODY, bearer(token(claims)), source, NOW, DOCS)


@pytest.mark.parametrize("now", [1550185935 + 61, IAT - 61, IAT + 86_400])
def test_expiry_and_issue_time_use_the_injected_clock(now: int) -> None:
    with pytest.raises(TimestampOutOfToleranceError):
        verify(handler, BODY, bearer(token()), source, now, DOCS)


def test_token_valid_by_our_clock_though_long_expired_by_the_wall_clock() -> None:
    # PyJWT would reject exp=2019 against the real clock; our `now` is what counts.
    assert verify(handler, BODY, bearer(token()), source, 1550185935, DOCS)


def test_wrong_key_unknown_kid_and_other_algorithms_are_rejected() -> None:
    for headers in (
        bearer(token(key=OTHER_KEY)),
        bearer(token(kid="unknown")),
        bearer(
            jwt.encode(
                DOC_CLAIMS,
                "secret-for-hs256-test-of-sufficient-length",
                "HS256",
                headers={"kid": KID},
            )
        ),
    ):
        with pytest.raises(InvalidSignatureError):
            verify(handler, BODY, headers, source, NOW, DOCS)


def test_tampered_token_payload_is_rejected() -> None:
    header, _, signature = token().split(".")
    forged = (
        base64.urlsafe_b64encode(
            json.dumps(
                {**DOC_CLAIMS, "email": EMAIL, "aud": AUDIENCE, "exp": 9_999_999_999}
            ).encode()
        )
        .decode()
        .rstrip("=")
    )
    with pytest.raises(InvalidSignatureError):
        verify(handler, BODY, bearer(f"{header}.{forged}.{signature}"), source, NOW, DOCS)


def test_missing_and_non_bearer_authorization() -> None:
    with pytest.raises(MissingSignatureError):
        verify(handler, BODY, {}, source, NOW, DOCS)
    with pytest.raises(InvalidSignatureError):
        verify(handler, BODY, {"Authorization": "Basic abc"}, source, NOW, DOCS)


def test_key_set_missing_or_broken_is_a_rejection() -> None:
    for documents in ({}, {GOOGLE_JWKS_URL: b"not json"}, {GOOGLE_JWKS_URL: b'{"keys": 1}'}):
        with pytest.raises(InvalidSignatureError):
            verify(handler, BODY, bearer(token()), source, NOW, documents)


def test_rotation_key_set_with_two_keys() -> None:
    both = {"keys": [*local_jwks(OTHER_KEY.public_key(), "old")["keys"], *json.loads(JWKS)["keys"]]}
    assert verify(
        handler, BODY, bearer(token()), source, NOW, {GOOGLE_JWKS_URL: json.dumps(both).encode()}
    )
    old = bearer(token(key=OTHER_KEY, kid="old"))
    assert verify(handler, BODY, old, source, NOW, {GOOGLE_JWKS_URL: json.dumps(both).encode()})


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_malformed_headers_are_rejected_not_crashed(value: str) -> None:
    assert_only_rejections(handler, source, BODY, {"Authorization": value}, NOW)
    with pytest.raises(RejectedRequestError):
        verify(handler, BODY, bearer(value), source, NOW, DOCS)


@settings(max_examples=200, deadline=None)
@given(authorization=st.text(max_size=400), body=st.binary(max_size=100))
def test_property_random_input_only_rejects(authorization: str, body: bytes) -> None:
    with pytest.raises(RejectedRequestError):
        handler.verify(
            Verification(request(body, {"Authorization": authorization}), source, NOW, DOCS)
        )


@settings(max_examples=200, deadline=None)
@given(
    claims=st.dictionaries(
        st.sampled_from(list(DOC_CLAIMS)),
        st.one_of(st.none(), st.text(max_size=20), st.integers(), st.booleans()),
    )
)
def test_property_random_claims_only_reject_or_pass(claims: dict[str, Any]) -> None:
    # Signed as raw JWS so that claims PyJWT's encoder would refuse (a null `iss`) still arrive.
    payload = json.dumps({**DOC_CLAIMS, **claims}).encode()
    raw = jwt.PyJWS().encode(payload, KEY, algorithm="RS256", headers={"kid": KID})
    with contextlib.suppress(RejectedRequestError):
        handler.verify(Verification(request(BODY, bearer(raw)), source, NOW, DOCS))


def test_jwks_option_pins_the_google_url(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_bytes(JWKS)
    pinned = handler.check_config(
        SourceConfig(
            name="gcs",
            vendor="gcs",
            options=RawOptions.of(
                {"audience": AUDIENCE, "service_account_email": EMAIL, "jwks": str(path)}
            ),
        )
    )
    assert handler.pinned_documents(pinned) == {GOOGLE_JWKS_URL: str(path)}
    assert handler.documents(request(BODY, {})) == [GOOGLE_JWKS_URL]
    with pytest.raises(ConfigError, match="jwks"):
        handler.check_config(
            SourceConfig(
                name="gcs",
                vendor="gcs",
                options=RawOptions.of(
                    {"audience": AUDIENCE, "service_account_email": EMAIL, "jwks": "/nope"}
                ),
            )
        )
    with pytest.raises(ConfigError, match="audience"):
        handler.check_config(SourceConfig(name="gcs", vendor="gcs", options=RawOptions.of({})))


def test_generated_keys_sign_what_we_verify(tmp_path: Path) -> None:
    snippet = simulator(handler).generate_keys(tmp_path)
    assert "jwks:" in snippet
    context = SigningContext(source=source, url=URL, key_dir=tmp_path)
    now = datetime.now(UTC).timestamp()
    headers = simulator(handler).sign(BODY, context, now).headers
    documents = {GOOGLE_JWKS_URL: (tmp_path / "gcs" / "jwks.json").read_bytes()}
    assert verify(handler, BODY, headers, source, now, documents).signed_at == int(now)


# -- identify and normalize -----------------------------------------------------------------------


def delivery(body: bytes) -> Delivery:
    identity = identify(handler, body, {}, source)
    return Delivery("gcs", "gcs", identity.event_id, identity.event_type, body, datetime.now(UTC))


def test_finalize_becomes_storage_object_created() -> None:
    envelope = json.loads(BODY)
    identity = identify(handler, BODY, {}, source)
    assert identity.event_id == envelope["message"]["messageId"]
    assert identity.event_type == "OBJECT_FINALIZE"
    [event] = handler.normalize(delivery(BODY))
    assert event.type == "storage.object.created"
    assert isinstance(event.data, StorageObjectCreated)
    attributes = envelope["message"]["attributes"]
    assert event.data.bucket == "example-bucket"
    assert event.data.key == attributes["objectId"]
    assert event.data.version == attributes["objectGeneration"]
    assert event.data.size == 102400
    assert event.data.content_type == "image/jpeg"
    assert event.key == f"gcs:example-bucket/{attributes['objectId']}"


def test_delete_becomes_storage_object_deleted_unless_overwritten() -> None:
    body = simulator(handler).sample("OBJECT_DELETE")
    [event] = handler.normalize(delivery(body))
    assert isinstance(event.data, StorageObjectDeleted)
    envelope = json.loads(body)
    envelope["message"]["attributes"]["overwrittenByGeneration"] = "2"
    [overwritten] = handler.normalize(delivery(json.dumps(envelope).encode()))
    assert overwritten.type == "gcs.OBJECT_DELETE"


def test_metadata_update_passes_through() -> None:
    [event] = handler.normalize(delivery(simulator(handler).sample("OBJECT_METADATA_UPDATE")))
    assert event.type == "gcs.OBJECT_METADATA_UPDATE"
    assert isinstance(event.data, VendorPassthrough)


def test_identify_needs_a_message_id() -> None:
    for body in (b"{}", b'{"message": {}}', b'{"message": {"messageId": ""}}', b"[]"):
        with pytest.raises(MalformedRequestError):
            identify(handler, body, {})


# -- cross-checked against Google's own verifier (google-auth) ------------------------------


class _JwksResponse(transport.Response):
    @property
    @override
    def status(self) -> int:
        return 200

    @property
    @override
    def headers(self) -> dict[str, str]:
        return {"content-type": "application/json"}

    @property
    @override
    def data(self) -> bytes:
        return JWKS


class _JwksTransport(transport.Request):
    """google-auth fetches the certificates through a transport; this one serves our JWKS."""

    @override
    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Any = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> transport.Response:
        assert url == GOOGLE_JWKS_URL
        return _JwksResponse()


@pytest.mark.parametrize(
    ("claims", "key"),
    [
        ({}, KEY),
        ({"aud": "https://elsewhere.example"}, KEY),
        ({}, OTHER_KEY),
        ({"exp": -120}, KEY),  # beyond our 60 s allowance for clock skew (google-auth: none)
    ],
    ids=["valid", "wrong-audience", "wrong-key", "expired"],
)
def test_a_token_is_accepted_exactly_when_google_auth_accepts_it(
    claims: dict[str, Any], key: Any
) -> None:
    """google.oauth2.id_token.verify_token is what Google documents for push subscriptions; its
    verdict and ours agree (ours checks the service account's email on top). It reads the
    clock, so the token is issued now and both judge now."""
    now = int(time.time())
    times = {"iat": now - 60, "exp": now + 3600}
    if "exp" in claims:
        times["exp"] = now + claims.pop("exp")
    encoded = token({**claims, **times}, key=key)
    try:
        id_token.verify_token(
            encoded, _JwksTransport(), audience=AUDIENCE, certs_url=GOOGLE_JWKS_URL
        )
    except Exception:  # noqa: BLE001 - any refusal of google-auth's, whatever its type
        google_accepts = False
    else:
        google_accepts = True
    try:
        verify(handler, BODY, bearer(encoded), source, now, DOCS)
    except RejectedRequestError:
        we_accept = False
    else:
        we_accept = True
    assert we_accept == google_accepts
