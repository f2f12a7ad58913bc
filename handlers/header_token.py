"""Any sender that authenticates with a static token in a header (Okta event hooks, Auth0 log
streams, Hugging Face's `X-Webhook-Secret`, GitLab's `X-Gitlab-Token`): the header's value must
equal a configured token; for `authorization`, `Bearer <token>` is accepted too.

Nothing is signed, so nothing binds the token to the body or to a time: pair this with
`ip_allowlist` where the sender publishes its addresses. Ids and types come from headers or JSON
paths (`handlers._extraction`).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, field_validator

from ingest.handlers import _extraction
from ingest.handlers._extraction import ExtractionOptions
from ingest.handlers.schemes.credentials import AUTHORIZATION, TokenInHeader, TokenVerified
from ingest.redaction import is_redacted_name

__all__ = ["AUTHORIZATION", "HeaderTokenHandler", "HeaderTokenOptions"]


class HeaderTokenOptions(ExtractionOptions, TokenInHeader):
    """`tokens` (several while the sender's settings are changed), the `header` carrying them
    (e.g. `x-gitlab-token`), and where ids and types are read."""

    @field_validator("header")
    @classmethod
    def _stored_redacted(cls, header: str) -> str:
        if not is_redacted_name(header):
            raise ValueError(
                f"header {header!r} would be stored unredacted in the inbox with the token in "
                "it; use a header whose name contains 'token' or 'secret', or authorization / "
                "x-api-key"
            )
        return header


class HeaderTokenHandler(TokenVerified, _extraction.ExtractingHandler):
    vendor: ClassVar[str] = "header-token"
    summary: ClassVar[str] = (
        "a configured header (default Authorization, Bearer accepted) equals a token (unsigned)"
    )
    options_model: ClassVar[type[BaseModel]] = HeaderTokenOptions
    accepts_bearer: ClassVar[bool] = True
