"""Certificates and keys verification needs: from a pinned file, else fetched; a host we will not
fetch from is the vendor's refusal (401), a fetch that fails now is an outage (503)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from typing_extensions import override

from ingest.documents import DocumentResolver, DocumentsUnavailableError
from ingest.handlers.base import (
    InboundRequest,
    InvalidSignatureError,
    Verdict,
    Verification,
    Verifier,
)
from ingest.outbound import OutboundClient
from ingest.sources import SourceConfig

CERT_URL = "https://certs.vendor.test/signing.pem"
KEYS_URL = "https://keys.vendor.test/jwks.json"
SOURCE = SourceConfig(name="s", vendor="fetching")


class Fetching(Verifier):
    """A verifier that needs two documents, one of them pinned to a file."""

    vendor: ClassVar[str] = "fetching"
    document_hosts: ClassVar[tuple[re.Pattern[str], ...]] = (re.compile(r"keys\.vendor\.test"),)

    def __init__(self, pinned: Mapping[str, str] | None = None) -> None:
        self.pinned = dict(pinned or {})

    @override
    def documents(self, request: InboundRequest) -> list[str]:
        return [CERT_URL, KEYS_URL]

    @override
    def pinned_documents(self, source: SourceConfig) -> Mapping[str, str]:
        return self.pinned

    @override
    def verify(self, check: Verification) -> Verdict:
        return Verdict(secret_index=0)


def vendor(served: Mapping[str, bytes], fetched: list[str]) -> OutboundClient:
    """The real outbound client over the vendor's document host, answered in-process (we have
    no internet): a URL not served is a connection failure."""

    def answer(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if url not in served:
            raise httpx.ConnectError("connection refused", request=request)
        fetched.append(url)
        return httpx.Response(200, content=served[url])

    return OutboundClient(transport=httpx.MockTransport(answer), attempts=1, backoff_seconds=0)


REQUEST = InboundRequest(method="POST", url="https://i.test/webhooks/s", headers={}, body=b"{}")


async def test_a_pinned_document_is_read_from_its_file_and_the_rest_fetched(
    tmp_path: Path,
) -> None:
    pinned = tmp_path / "signing.pem"
    pinned.write_bytes(b"PINNED")
    handler = Fetching({CERT_URL: str(pinned)})
    fetched: list[str] = []
    client = vendor({KEYS_URL: b"FETCHED"}, fetched)
    documents = await DocumentResolver(client).resolve(handler, REQUEST, SOURCE)
    assert documents == {CERT_URL: b"PINNED", KEYS_URL: b"FETCHED"}
    assert fetched == [KEYS_URL]


async def test_a_missing_pinned_file_is_an_outage_not_a_refusal(tmp_path: Path) -> None:
    handler = Fetching({CERT_URL: str(tmp_path / "gone.pem")})
    with pytest.raises(DocumentsUnavailableError, match="pinned file"):
        await DocumentResolver(vendor({}, [])).resolve(handler, REQUEST, SOURCE)


async def test_a_host_outside_the_vendors_is_a_refused_signature() -> None:
    """The certificate URL travels in the request: one we will not fetch vouches for nothing."""
    with pytest.raises(InvalidSignatureError, match="not on this vendor's allowlist"):
        await DocumentResolver(vendor({}, [])).resolve(Fetching(), REQUEST, SOURCE)


async def test_a_failed_fetch_is_an_outage(tmp_path: Path) -> None:
    pinned = tmp_path / "signing.pem"
    pinned.write_bytes(b"PINNED")
    handler = Fetching({CERT_URL: str(pinned)})
    with pytest.raises(DocumentsUnavailableError):
        await DocumentResolver(vendor({}, [])).resolve(handler, REQUEST, SOURCE)
