"""Static credentials for vendors that sign nothing: HTTP Basic auth and shared tokens in a header.

Shared by the Mixpanel and Datadog handlers (a private module: handler discovery skips names
starting with `_`). Everything here compares bytes with `hmac.compare_digest` and turns any
malformed header into a rejection, never a ValueError or UnicodeError.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from handlers.base import InvalidCredentialsError, MissingCredentialsError

MAX_CREDENTIAL_HEADER_LENGTH = 4096


def _no_colon(value: str) -> str:
    # RFC 7617: the user-id ends at the first colon, so a username with one could never match.
    if ":" in value:
        raise ValueError("a Basic auth username cannot contain ':'")
    return value


class BasicCredential(BaseModel):
    """One accepted username/password pair; list several to rotate passwords."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: Annotated[str, StringConstraints(min_length=1), AfterValidator(_no_colon)]
    password: Annotated[str, StringConstraints(min_length=1)]


def header_bytes(value: str, what: str) -> bytes:
    """The header as sent: Starlette decodes header bytes as latin-1, so encoding back is exact.

    Anything that is not latin-1 (only possible when called directly, never over HTTP) cannot be
    a credential we issued."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        raise InvalidCredentialsError(f"{what} is not a valid header value") from None


def match_basic(header: str | None, credentials: Sequence[BasicCredential]) -> int:
    """Index of the configured credential that `Authorization: Basic …` presents.

    Every configured pair is compared (no early exit), username and password both in constant
    time, so neither timing nor the error says which part was wrong."""
    if not header:
        raise MissingCredentialsError("Authorization header is missing")
    if len(header) > MAX_CREDENTIAL_HEADER_LENGTH:
        raise InvalidCredentialsError("Authorization header is too long")
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise InvalidCredentialsError("Authorization must use the Basic scheme")
    try:
        decoded = base64.b64decode(header_bytes(encoded.strip(), "Authorization"), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidCredentialsError("Authorization is not valid base64") from None
    username, colon, password = decoded.partition(b":")
    if not colon:
        raise InvalidCredentialsError("Basic credentials must be 'username:password'")
    matched: int | None = None
    for index, credential in enumerate(credentials):
        user_ok = hmac.compare_digest(username, credential.username.encode())
        password_ok = hmac.compare_digest(password, credential.password.encode())
        if user_ok and password_ok and matched is None:
            matched = index
    if matched is None:
        raise InvalidCredentialsError("Basic credentials match no configured username/password")
    return matched


def match_token(value: str | None, tokens: Sequence[str], what: str) -> int:
    """Index of the configured token that a header presents verbatim (constant-time)."""
    if not value:
        raise MissingCredentialsError(f"{what} header is missing")
    if len(value) > MAX_CREDENTIAL_HEADER_LENGTH:
        raise InvalidCredentialsError(f"{what} header is too long")
    presented = header_bytes(value.strip(), what)
    for index, token in enumerate(tokens):
        if hmac.compare_digest(presented, token.encode()):
            return index
    raise InvalidCredentialsError(f"{what} matches no configured token")


def basic_authorization(credential: BasicCredential) -> str:
    """The `Authorization` value a sender configured with `credential` sends."""
    pair = f"{credential.username}:{credential.password}".encode()
    return f"Basic {base64.b64encode(pair).decode('ascii')}"


def first_basic_credential(options: Any) -> BasicCredential | None:
    """The credential `ingest send` signs with: the first of the source's `basic_auth`, whether
    the options are parsed already or still the raw mapping; None when there is none."""
    raw = options.get("basic_auth") if isinstance(options, Mapping) else None
    if raw is None:
        raw = getattr(options, "basic_auth", None)
    if not isinstance(raw, list | tuple) or not raw:
        return None
    first = raw[0]
    return first if isinstance(first, BasicCredential) else BasicCredential.model_validate(first)
