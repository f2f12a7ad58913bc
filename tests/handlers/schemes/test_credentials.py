"""The static-credential schemes on their own: HTTP Basic and tokens in a header, compared in
constant time against every configured value; anything malformed is a 401, never a 500; and
the verification roles vendors inherit (`BasicAuthVerified`, `TokenVerified`)."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable
from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from ingest.errors import ConfigError
from ingest.handlers.base import (
    Delivery,
    Emitted,
    Identity,
    InboundRequest,
    InvalidCredentialsError,
    MissingCredentialsError,
    RejectedRequestError,
    Verification,
)
from ingest.handlers.schemes.credentials import (
    BasicAuthVerified,
    BasicCredential,
    BasicCredentials,
    TokenInHeader,
    TokenVerified,
    match_basic,
    match_token,
)
from ingest.sources import RawOptions, SourceConfig
from tests.handlers.kit import request

PAIRS = [
    BasicCredential(username="old", password="old-password"),
    BasicCredential(username="new", password="new-password"),
]
TOKENS = ("token-previous", "token-current")


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


# -- the matchers ------------------------------------------------------------------------------


def test_every_configured_pair_is_tried_and_the_matching_one_named() -> None:
    assert match_basic(_basic("old", "old-password"), PAIRS) == 0
    assert match_basic(_basic("new", "new-password"), PAIRS) == 1
    assert match_basic("basic " + _basic("new", "new-password")[6:], PAIRS) == 1


@pytest.mark.parametrize(
    "header",
    [
        _basic("new", "old-password"),  # a user with another's password
        _basic("old", "new-password"),
        "Bearer token-current",
        "Basic not base64!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + "A" * 5000,
    ],
)
def test_anything_but_a_configured_pair_is_invalid(header: str) -> None:
    with pytest.raises(InvalidCredentialsError):
        match_basic(header, PAIRS)


@pytest.mark.parametrize("header", [None, "", "   "])
def test_no_credentials_are_missing(header: str | None) -> None:
    with pytest.raises(MissingCredentialsError):
        match_basic(header, PAIRS)
    with pytest.raises(MissingCredentialsError):
        match_token(header, TOKENS, "Authorization")


def test_tokens_bare_and_after_bearer_where_the_vendor_says() -> None:
    assert match_token("token-current", TOKENS, "X-Token") == 1
    assert match_token("Bearer token-previous", TOKENS, "Authorization", bearer=True) == 0
    with pytest.raises(InvalidCredentialsError):
        match_token("Bearer token-previous", TOKENS, "Authorization")  # bearer not accepted
    assert match_token("Bearer abc", ("Bearer abc",), "Authorization", bearer=True) == 0


def test_every_configured_value_is_compared_in_constant_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No early exit: a match on the first token still compares the second, and every
    comparison is of equal-length digests, so neither timing nor length says which matched."""
    calls: list[tuple[bytes, bytes]] = []
    compare = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert match_token("token-previous", TOKENS, "X-Token") == 0
    assert len(calls) == len(TOKENS)
    calls.clear()
    assert match_basic(_basic("old", "old-password"), PAIRS) == 0
    assert len(calls) == 2 * len(PAIRS)  # username and password, for every pair
    assert all(len(a) == len(b) == 32 for a, b in calls)


@settings(max_examples=300, deadline=None)
@given(header=st.text(st.characters(codec="latin-1"), max_size=200))
def test_any_header_is_a_401_or_a_real_credential(header: str) -> None:
    calls: list[Callable[[], int]] = [
        lambda: match_basic(header, PAIRS),
        lambda: match_token(header, TOKENS, "X"),
    ]
    for call in calls:
        try:
            call()
        except RejectedRequestError as rejection:
            assert rejection.status == 401  # noqa: PT017 - either outcome is allowed; a 500 is not


# -- the roles vendors inherit ---------------------------------------------------------------


class _Identified:
    """What both fake vendors share: an identity and an empty mapping."""

    def identify(self, request: InboundRequest, source: SourceConfig) -> Identity:
        return Identity(event_id="e", event_type="t")

    def normalize(self, delivery: Delivery) -> list[Emitted]:
        return []


class BasicVendor(_Identified, BasicAuthVerified):
    vendor: ClassVar[str] = "basic-vendor"


class HeaderOptions(TokenInHeader):
    region: str = "eu"


class TokenVendor(_Identified, TokenVerified):
    vendor: ClassVar[str] = "token-vendor"
    options_model: ClassVar[type[BaseModel]] = HeaderOptions


def _source(vendor: str, **options: object) -> SourceConfig:
    return SourceConfig(name="s", vendor=vendor, options=RawOptions.of(dict(options)))


def test_a_basic_auth_vendor_verifies_by_declaration() -> None:
    handler = BasicVendor()
    source = handler.check_config(
        _source("basic-vendor", basic_auth=[p.model_dump() for p in PAIRS])
    )
    assert isinstance(source.options, BasicCredentials)
    checked = request(b"{}", {"Authorization": _basic("new", "new-password")})
    assert handler.verify(Verification(checked, source, 0, {})).secret_index == 1
    assert handler.signature_headers == ("Authorization",)


def test_a_token_vendor_reads_its_own_options_and_blanks_its_header() -> None:
    handler = TokenVendor()
    raw = _source("token-vendor", tokens=list(TOKENS), header="X-Hook-Key", region="us")
    # Asked before start-up checks (a simulator may): the vendor's model, extra keys and all.
    assert handler.token_header(raw) == "x-hook-key"
    source = handler.check_config(raw)
    assert handler.credential_headers(source) == frozenset({"x-hook-key"})
    checked = request(b"{}", {"X-Hook-Key": "token-current"})
    assert handler.verify(Verification(checked, source, 0, {})).secret_index == 1
    with pytest.raises(MissingCredentialsError):
        handler.verify(Verification(request(b"{}", {}), source, 0, {}))


def test_the_roles_refuse_secrets_and_a_tolerance_they_would_ignore() -> None:
    handler = TokenVendor()
    with pytest.raises(ConfigError, match="takes its credentials in 'tokens', not 'secrets'"):
        handler.check_config(
            SourceConfig(
                name="s",
                vendor="token-vendor",
                secrets=("oops-a-secret",),
                options=RawOptions.of({"tokens": list(TOKENS)}),
            )
        )
    with pytest.raises(ConfigError, match="tolerance_seconds has no effect"):
        handler.check_config(
            SourceConfig(
                name="s",
                vendor="token-vendor",
                tolerance_seconds=60,
                options=RawOptions.of({"tokens": list(TOKENS)}),
            )
        )


@pytest.mark.parametrize("token", [" padded", "trailing ", "tab\tinside", ""])
def test_a_token_no_sender_could_present_is_a_config_error(token: str) -> None:
    with pytest.raises(ConfigError):
        TokenVendor().check_config(_source("token-vendor", tokens=[token]))
