"""OIDC ID tokens in `Authorization: Bearer`: the scheme of Google's push senders (Pub/Sub push
for GCS notifications; Cloud Tasks and Eventarc send the same) and of any sender that signs a JWT
with a key it publishes as a JWKS.

What differs between senders is declared (`BearerJwt`): where the key set lives, who may issue
tokens, which algorithms are accepted. What the source configures (the audience) is passed in;
what a vendor checks beyond that (Google's `email` of the service account) stays the vendor's.

Every failure is a 401 naming what was wrong, never a 500: a token that is not a JWT, an algorithm
not declared (`none` and HS256 — keyed with a public key — above all), a key id the set does not
hold, a bad signature, `iat`/`exp` outside the tolerance in either direction (PyJWT's own clock
checks are off: they read the wall clock, verification has only `now`), another issuer or
audience.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt

from ingest.handlers import base

if TYPE_CHECKING:  # PyJWT names its options' type from 2.10; any 2.x takes the dict
    from jwt.types import Options

MAX_TOKEN_LENGTH = 8192
"""Google's ID tokens are ~1 KB; a header of megabytes is not worth decoding."""
SIGNATURE_ONLY: Options = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
}
"""PyJWT checks the signature; the claims are checked here, against the injected clock."""


@dataclass(frozen=True)
class BearerJwt:
    """Where a sender's key set is published and who may issue its tokens."""

    vendor: str
    """For messages: "the bearer token was signed by no key in Google's key set"."""
    jwks_url: str
    """The JWKS document's URL: fetched and cached by the service (or pinned to a local file)."""
    issuers: frozenset[str]
    algorithms: tuple[str, ...] = ("RS256",)
    """Asymmetric only: the key set holds public keys, and an HMAC keyed with one is a forgery."""

    def token(self, request: base.InboundRequest) -> str:
        """The JWT from `Authorization: Bearer <token>`."""
        header = request.required_header("Authorization", max_length=MAX_TOKEN_LENGTH + 16)
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH:
            raise base.InvalidSignatureError("Authorization is not a Bearer token")
        if not token.isascii():  # base64url and dots: anything else is no JWT
            raise base.InvalidSignatureError("bearer token is not a JWT")
        return token

    def verified_claims(
        self,
        request: base.InboundRequest,
        documents: Mapping[str, bytes],
        *,
        now: float,
        tolerance_seconds: int,
        audience: str,
    ) -> dict[str, Any]:
        """The token's claims once its signature, times, issuer and audience hold."""
        token = self.token(request)
        key_set = documents.get(self.jwks_url)
        if key_set is None:
            raise base.InvalidSignatureError(f"{self.vendor}'s key set was not available")
        key = self.signing_key(token, key_set)
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=list(self.algorithms), options=SIGNATURE_ONLY
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            raise base.InvalidSignatureError("bearer token signature does not verify") from None
        issued_at, expires_at = _time(claims, "iat"), _time(claims, "exp")
        if now > expires_at + tolerance_seconds or now < issued_at - tolerance_seconds:
            raise base.TimestampOutOfToleranceError("bearer token is expired or not yet valid")
        if claims.get("iss") not in self.issuers:
            raise base.InvalidCredentialsError(f"bearer token was not issued by {self.vendor}")
        if not _for_audience(claims.get("aud"), audience):
            raise base.InvalidCredentialsError("bearer token is for another audience")
        return claims

    def signing_key(self, token: str, key_set: bytes) -> Any:
        """The key the token's `kid` names in the set, for a declared algorithm."""
        try:
            header = jwt.get_unverified_header(token)
            keys = jwt.PyJWKSet.from_dict(json.loads(key_set)).keys
        except (jwt.PyJWTError, ValueError, TypeError, KeyError, RecursionError):
            raise base.InvalidSignatureError("bearer token or key set is malformed") from None
        if header.get("alg") not in self.algorithms:
            raise base.InvalidSignatureError(f"bearer token is not {' or '.join(self.algorithms)}")
        for key in keys:
            if key.key_id == header.get("kid"):
                return key.key
        raise base.InvalidSignatureError(
            f"bearer token was signed by no key in {self.vendor}'s key set"
        )


def _time(claims: Mapping[str, Any], name: str) -> int:
    value = claims.get(name)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise base.InvalidSignatureError(f"bearer token has no numeric {name!r}")
    return int(value)


def _for_audience(claimed: Any, audience: str) -> bool:
    """OIDC allows `aud` as one string or a list of them (RFC 7519 §4.1.3)."""
    if isinstance(claimed, list):
        return audience in claimed
    return isinstance(claimed, str) and claimed == audience
