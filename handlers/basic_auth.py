"""Any sender that authenticates with HTTP Basic auth (`https://user:password@host/…` in its
webhook settings, as Postmark and Mixpanel do): `Authorization: Basic base64(user:password)`.

Nothing is signed, so nothing binds the credentials to the body or to a time: pair this with
`ip_allowlist` where the sender publishes its addresses. Ids and types come from headers or JSON
paths (`handlers._extraction`). The `authorization` header is redacted in the inbox.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel

from ingest.handlers import _extraction
from ingest.handlers._extraction import ExtractionOptions
from ingest.handlers.schemes.credentials import BasicAuthVerified, BasicCredentials


class BasicAuthOptions(ExtractionOptions, BasicCredentials):
    """`basic_auth` (several pairs while the sender's settings are changed) and where ids and
    types are read."""


class BasicAuthHandler(BasicAuthVerified, _extraction.ExtractingHandler):
    vendor: ClassVar[str] = "basic-auth"
    summary: ClassVar[str] = "Authorization: Basic user:password from a configured list (unsigned)"
    options_model: ClassVar[type[BaseModel]] = BasicAuthOptions
