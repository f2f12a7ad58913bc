"""Certificates and keys that verification needs, from a pinned file or through the outbound
client: `certificates` in a source maps a URL to a local PEM file for air-gapped installs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ingest.handlers.base import InboundRequest, InvalidSignatureError, Verifier
from ingest.outbound import HostNotAllowedError, OutboundClient, OutboundError
from ingest.sources import SourceConfig


class DocumentsUnavailableError(OutboundError):
    """A certificate could not be had right now: answer 503 so the vendor retries."""


class DocumentResolver:
    def __init__(self, client: OutboundClient) -> None:
        self.client = client

    async def resolve(
        self, handler: Verifier, request: InboundRequest, source: SourceConfig
    ) -> dict[str, bytes]:
        documents: dict[str, bytes] = {}
        pinned = handler.pinned_documents(source)
        for url in handler.documents(request):
            if url in pinned:
                try:
                    documents[url] = await asyncio.to_thread(Path(pinned[url]).read_bytes)
                except OSError as exc:
                    raise DocumentsUnavailableError(
                        f"pinned file for {url}: {exc.strerror}"
                    ) from None
                continue
            try:
                documents[url] = await self.client.get(
                    url,
                    allowed_hosts=handler.document_hosts,
                    cache_seconds=handler.document_cache_seconds,
                )
            except HostNotAllowedError as exc:
                # A certificate URL we will not fetch cannot vouch for the signature.
                raise InvalidSignatureError(str(exc)) from None
            except OutboundError as exc:
                raise DocumentsUnavailableError(str(exc)) from None
        return documents
