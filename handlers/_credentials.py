"""Static credentials for senders that sign nothing: HTTP Basic auth and tokens in a header.

One implementation for every such vendor (Postmark, Mixpanel, Datadog, Auth0, Okta, Hugging
Face, basic-auth, header-token). A private module: handler discovery skips names starting
with `_`. Values are compared as SHA-256 digests with `hmac.compare_digest` (equal lengths, so
no length leaks either), every configured value is compared (no early exit), and any malformed
header becomes a rejection, never a ValueError or UnicodeError.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from ingest.handlers.base import InvalidCredentialsError, MissingCredentialsError

MAX_CREDENTIAL_HEADER_LENGTH = 4096


def _no_colon(value: str) -> str:
    # RFC 7617: the user-id ends at the first colon, so a username with one could never match.
    if ":" in value:
        raise ValueError("a Basic auth username cannot contain ':' (RFC 7617)")
    return value


class BasicCredential(BaseModel):
    """One accepted username/password pair; list several to rotate passwords."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: Annotated[
        str, StringConstraints(min_length=1, max_length=255), AfterValidator(_no_colon)
    ]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


def _no_blank_tokens(tokens: tuple[str, ...]) -> tuple[str, ...]:
    # The message must not echo a value: configuration errors are logged.
    if any(not token.strip() for token in tokens):
        raise ValueError("every token must be a non-empty string")
    return tokens


Tokens = Annotated[tuple[str, ...], Field(min_length=1), AfterValidator(_no_blank_tokens)]
"""`tokens`: accepted credentials, the current one first; two while rotating."""


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


def header_bytes(value: str, what: str) -> bytes:
    """The header as sent: Starlette decodes header bytes as latin-1, so encoding back is exact.

    Anything that is not latin-1 (only possible when called directly, never over HTTP) cannot be
    a credential we issued."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        raise InvalidCredentialsError(f"{what} is not a valid header value") from None


def _present(value: str | None, what: str) -> str:
    if value is None or not value.strip():
        raise MissingCredentialsError(f"{what} header is missing")
    if len(value) > MAX_CREDENTIAL_HEADER_LENGTH:
        raise InvalidCredentialsError(f"{what} header is too long")
    return value.strip()


def match_basic(header: str | None, credentials: Sequence[BasicCredential]) -> int:
    """Index of the configured credential that `Authorization: Basic …` presents.

    Username and password are both compared for every pair, so neither timing nor the error
    says which part was wrong."""
    value = _present(header, "Authorization")
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic":
        raise InvalidCredentialsError("Authorization must use the Basic scheme")
    try:
        decoded = base64.b64decode(header_bytes(encoded.strip(), "Authorization"), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidCredentialsError("Authorization is not valid base64") from None
    username, colon, password = decoded.partition(b":")
    if not colon:
        raise InvalidCredentialsError("Basic credentials must be 'username:password'")
    presented_user, presented_password = _digest(username), _digest(password)
    matched: int | None = None
    for index, credential in enumerate(credentials):
        user_ok = hmac.compare_digest(presented_user, _digest(credential.username.encode()))
        password_ok = hmac.compare_digest(presented_password, _digest(credential.password.encode()))
        if user_ok and password_ok and matched is None:
            matched = index
    if matched is None:
        raise InvalidCredentialsError("Basic credentials match no configured username/password")
    return matched


def match_token(
    value: str | None, tokens: Sequence[str], what: str, *, bearer: bool = False
) -> int:
    """Index of the configured token a header presents.

    With `bearer`, both the header as sent and the token after a `Bearer ` scheme are candidates:
    senders such as Auth0 send whatever the user typed, so `tokens: [abc]` must accept
    `Bearer abc`, and `tokens: ["Bearer abc"]` must too."""
    presented = _present(value, what)
    candidates = [_digest(header_bytes(presented, what))]
    scheme, _, rest = presented.partition(" ")
    if bearer and scheme.lower() == "bearer" and rest.strip():
        candidates.append(_digest(header_bytes(rest.strip(), what)))
    matched: int | None = None
    for index, token in enumerate(tokens):
        expected = _digest(token.encode("utf-8", "surrogatepass"))
        hit = False
        for candidate in candidates:
            hit |= hmac.compare_digest(expected, candidate)
        if hit and matched is None:
            matched = index
    if matched is None:
        raise InvalidCredentialsError(f"{what} matches no configured token")
    return matched
