"""Static credentials for senders that sign nothing: HTTP Basic auth and tokens in a header.

One implementation for every such vendor (Postmark, Mixpanel, Datadog, Auth0, Okta, Hugging
Face, basic-auth, header-token). Most declare the scheme by inheriting its verification role
(`BasicAuthVerified`, `TokenVerified`) and keep only their identity and mapping; Datadog (either
scheme) and Hugging Face (a token in `secrets`) call the matchers. Values are compared as
SHA-256 digests with `hmac.compare_digest` (equal lengths, so no length leaks either), every
configured value is compared (no early exit), and any malformed header becomes a rejection,
never a ValueError or UnicodeError.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Annotated, ClassVar, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from typing_extensions import override

from ingest.handlers import base
from ingest.sources import SourceConfig

MAX_CREDENTIAL_HEADER_LENGTH = 4096
AUTHORIZATION = "authorization"


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


def _sendable_tokens(tokens: tuple[str, ...]) -> tuple[str, ...]:
    # The message must not echo a value: configuration errors are logged.
    if any(not token.strip() for token in tokens):
        raise ValueError("every token must be a non-empty string")
    # HTTP strips surrounding whitespace and forbids control characters in values: such a token
    # could never be presented, so it is a typo.
    if any(token != token.strip() or not token.isprintable() for token in tokens):
        raise ValueError("tokens cannot have surrounding spaces or control characters")
    return tokens


Tokens = Annotated[
    tuple[Annotated[str, StringConstraints(max_length=1024)], ...],
    Field(min_length=1),
    AfterValidator(_sendable_tokens),
]
"""`tokens`: accepted credentials, the current one first; two while rotating."""


class BasicCredentials(BaseModel):
    """`basic_auth`: accepted username/password pairs; several while passwords are rotated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    basic_auth: Annotated[tuple[BasicCredential, ...], Field(min_length=1)]


class TokenCredentials(BaseModel):
    """`tokens`, presented in `Authorization` (bare, or after `Bearer` where the vendor says)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tokens: Tokens

    @property
    def token_header(self) -> str:
        """The (lower-case) header the tokens are presented in."""
        return AUTHORIZATION


class TokenInHeader(TokenCredentials):
    """`tokens`, presented in the header the source names (`header`, default Authorization)."""

    header: str = AUTHORIZATION

    @property
    @override
    def token_header(self) -> str:
        return self.header

    @field_validator("header")
    @classmethod
    def _header_name(cls, header: str) -> str:
        if not base.HEADER_NAME.fullmatch(header.strip()):
            raise ValueError("header must be an HTTP header name such as Authorization")
        # Requests reach handlers with lower-case header names.
        return header.strip().lower()


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


def header_bytes(value: str, what: str) -> bytes:
    """The header as sent: Starlette decodes header bytes as latin-1, so encoding back is exact.

    Anything that is not latin-1 (only possible when called directly, never over HTTP) cannot be
    a credential we issued."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        raise base.InvalidCredentialsError(f"{what} is not a valid header value") from None


def _present(value: str | None, what: str) -> str:
    if value is None or not value.strip():
        raise base.MissingCredentialsError(f"{what} header is missing")
    if len(value) > MAX_CREDENTIAL_HEADER_LENGTH:
        raise base.InvalidCredentialsError(f"{what} header is too long")
    return value.strip()


def match_basic(header: str | None, credentials: Sequence[BasicCredential]) -> int:
    """Index of the configured credential that `Authorization: Basic …` presents.

    Username and password are both compared for every pair, so neither timing nor the error
    says which part was wrong."""
    value = _present(header, "Authorization")
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic":
        raise base.InvalidCredentialsError("Authorization must use the Basic scheme")
    try:
        decoded = base64.b64decode(header_bytes(encoded.strip(), "Authorization"), validate=True)
    except (binascii.Error, ValueError):
        raise base.InvalidCredentialsError("Authorization is not valid base64") from None
    username, colon, password = decoded.partition(b":")
    if not colon:
        raise base.InvalidCredentialsError("Basic credentials must be 'username:password'")
    presented_user, presented_password = _digest(username), _digest(password)
    matched: int | None = None
    for index, credential in enumerate(credentials):
        user_ok = hmac.compare_digest(presented_user, _digest(credential.username.encode()))
        password_ok = hmac.compare_digest(presented_password, _digest(credential.password.encode()))
        if user_ok and password_ok and matched is None:
            matched = index
    if matched is None:
        raise base.InvalidCredentialsError(
            "Basic credentials match no configured username/password"
        )
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
        raise base.InvalidCredentialsError(f"{what} matches no configured token")
    return matched


# -- the verification role, for vendors that declare one of these schemes -------------------

CredentialsT = TypeVar("CredentialsT", bound=BaseModel)


def _checked(options: BaseModel, model: type[CredentialsT]) -> CredentialsT:
    """A vendor declaring a credential scheme has options that derive from its model: read as
    the vendor's model (extra keys and all), then held to the scheme's."""
    if not isinstance(options, model):
        raise TypeError(f"options of {type(options).__name__} are not {model.__name__}")
    return options


class BasicAuthVerified(base.VendorHandler):
    """Verification by `Authorization: Basic …` against the source's `basic_auth` (its options
    model derives from `BasicCredentials`)."""

    signature_headers: ClassVar[tuple[str, ...]] = ("Authorization",)
    options_model: ClassVar[type[BaseModel]] = BasicCredentials
    requires_secrets: ClassVar[bool] = False
    credentials_option: ClassVar[str | None] = "'basic_auth' (username/password pairs)"

    @override
    def verify(self, check: base.Verification) -> base.Verdict:
        options = _checked(self.options(check.source, self.options_model), BasicCredentials)
        header = check.request.headers.get(AUTHORIZATION)
        return base.Verdict(secret_index=match_basic(header, options.basic_auth))


class TokenVerified(base.VendorHandler):
    """Verification by a header equal to one of the source's `tokens`. In `Authorization`
    unless the options model is a `TokenInHeader` (then the source's `header`, which the inbox
    blanks); `accepts_bearer`: `Bearer <token>` counts as the token too (Auth0 sends what the
    user typed)."""

    signature_headers: ClassVar[tuple[str, ...]] = ("Authorization",)
    options_model: ClassVar[type[BaseModel]] = TokenCredentials
    requires_secrets: ClassVar[bool] = False
    credentials_option: ClassVar[str | None] = "'tokens'"
    accepts_bearer: ClassVar[bool] = False

    def tokens(self, source: SourceConfig) -> TokenCredentials:
        return _checked(self.options(source, self.options_model), TokenCredentials)

    def token_header(self, source: SourceConfig) -> str:
        return self.tokens(source).token_header

    @override
    def credential_headers(self, source: SourceConfig) -> frozenset[str]:
        return frozenset({self.token_header(source)})

    @override
    def verify(self, check: base.Verification) -> base.Verdict:
        return base.Verdict(secret_index=self.authenticate(check.request.headers, check.source))

    def authenticate(self, headers: Mapping[str, str], source: SourceConfig) -> int:
        """The index of the token presented; for a GET handshake (Okta) as for a delivery."""
        options = self.tokens(source)
        header = options.token_header
        bearer = self.accepts_bearer and header == AUTHORIZATION
        return match_token(headers.get(header), options.tokens, header, bearer=bearer)
