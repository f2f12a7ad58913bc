"""Any sender that authenticates with a static token in a header (Okta event hooks, Auth0 log
streams, Hugging Face's `X-Webhook-Secret`, GitLab's `X-Gitlab-Token`): the header's value must
equal a configured token; for `authorization`, `Bearer <token>` is accepted too.

Nothing is signed, so nothing binds the token to the body or to a time: pair this with
`ip_allowlist` where the sender publishes its addresses. Ids and types come from headers or JSON
paths (`handlers._extraction`).
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import BaseModel, Field, field_validator

from ingest.errors import ConfigError
from ingest.handlers import _extraction
from ingest.handlers._credentials import match_token
from ingest.handlers._extraction import ExtractionOptions, header_name
from ingest.handlers.base import (
    Verdict,
    Verification,
)
from ingest.redaction import is_redacted_name
from ingest.sources import SourceConfig

AUTHORIZATION = "authorization"


class HeaderTokenOptions(ExtractionOptions):
    header: str = AUTHORIZATION
    """The header carrying the token, e.g. `x-gitlab-token`."""
    tokens: Annotated[
        tuple[Annotated[str, Field(min_length=1, max_length=1024)], ...], Field(min_length=1)
    ]
    """Accepted tokens; several while the sender's settings are changed."""

    @field_validator("header")
    @classmethod
    def _token_header_name(cls, value: str) -> str:
        return header_name(value) or AUTHORIZATION

    @field_validator("tokens")
    @classmethod
    def _sendable(cls, tokens: tuple[str, ...]) -> tuple[str, ...]:
        for token in tokens:
            # HTTP strips surrounding whitespace and forbids control characters in values: such
            # a token could never be presented, so it is a typo.
            if token != token.strip() or not token.isprintable():
                raise ValueError("tokens cannot have surrounding spaces or control characters")
        return tokens


class HeaderTokenHandler(_extraction.ExtractingHandler):
    vendor: ClassVar[str] = "header-token"
    summary: ClassVar[str] = (
        "a configured header (default Authorization, Bearer accepted) equals a token (unsigned)"
    )
    signature_headers: ClassVar[tuple[str, ...]] = ("Authorization",)  # or the `header` option
    options_model: ClassVar[type[BaseModel]] = HeaderTokenOptions
    requires_secrets: ClassVar[bool] = False
    default_tolerance_seconds: ClassVar[int | None] = None

    def check_config(self, source: SourceConfig) -> SourceConfig:
        if source.secrets:
            raise ConfigError(
                f"source {source.name!r}: vendor {self.vendor} takes its credentials in "
                "'tokens', not 'secrets'"
            )
        if source.tolerance_seconds is not None:
            raise ConfigError(
                f"source {source.name!r}: tolerance_seconds has no effect for vendor "
                f"{self.vendor}: nothing is signed, so there is no timestamp to check"
            )
        source = super().check_config(source)
        header = self.options(source, HeaderTokenOptions).header
        if not is_redacted_name(header):
            raise ConfigError(
                f"source {source.name!r}: header {header!r} would be stored unredacted in the "
                "inbox with the token in it; use a header whose name contains 'token' or "
                "'secret', or authorization / x-api-key"
            )
        return source

    def credential_headers(self, source: SourceConfig) -> frozenset[str]:
        return frozenset({self.options(source, HeaderTokenOptions).header})

    def verify(self, check: Verification) -> Verdict:
        request, source = check.request, check.source
        options = self.options(source, HeaderTokenOptions)
        index = match_token(
            request.headers.get(options.header),
            options.tokens,
            options.header,
            bearer=options.header == AUTHORIZATION,
        )
        return Verdict(secret_index=index)
