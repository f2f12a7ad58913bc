"""Any sender that authenticates with HTTP Basic auth (`https://user:password@host/…` in its
webhook settings, as Postmark and Mixpanel do): `Authorization: Basic base64(user:password)`.

Nothing is signed, so nothing binds the credentials to the body or to a time: pair this with
`ip_allowlist` where the sender publishes its addresses. Ids and types come from headers or JSON
paths (`handlers._extraction`). The `authorization` header is redacted in the inbox.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import BaseModel, Field

from ingest.errors import ConfigError
from ingest.handlers import _extraction
from ingest.handlers._credentials import BasicCredential, match_basic
from ingest.handlers._extraction import ExtractionOptions
from ingest.handlers.base import (
    Verdict,
    Verification,
)
from ingest.sources import SourceConfig

HEADER = "authorization"


class BasicAuthOptions(ExtractionOptions):
    basic_auth: Annotated[tuple[BasicCredential, ...], Field(min_length=1)]
    """Accepted username/password pairs; several while the sender's settings are changed."""


class BasicAuthHandler(_extraction.ExtractingHandler):
    vendor: ClassVar[str] = "basic-auth"
    summary: ClassVar[str] = "Authorization: Basic user:password from a configured list (unsigned)"
    signature_headers: ClassVar[tuple[str, ...]] = ("Authorization",)
    options_model: ClassVar[type[BaseModel]] = BasicAuthOptions
    requires_secrets: ClassVar[bool] = False
    default_tolerance_seconds: ClassVar[int | None] = None

    def check_config(self, source: SourceConfig) -> SourceConfig:
        if source.secrets:
            raise ConfigError(
                f"source {source.name!r}: vendor {self.vendor} takes its credentials in "
                "'basic_auth' (username/password pairs), not 'secrets'"
            )
        if source.tolerance_seconds is not None:
            raise ConfigError(
                f"source {source.name!r}: tolerance_seconds has no effect for vendor "
                f"{self.vendor}: nothing is signed, so there is no timestamp to check"
            )
        return super().check_config(source)

    def verify(self, check: Verification) -> Verdict:
        request, source = check.request, check.source
        options = self.options(source, BasicAuthOptions)
        return Verdict(secret_index=match_basic(request.headers.get(HEADER), options.basic_auth))
