"""Calling vendor handlers the way the service does, in one line per test."""

from __future__ import annotations

from collections.abc import Mapping

from ingest.handlers.base import (
    Identity,
    InboundRequest,
    VendorHandler,
    Verdict,
    Verification,
    lower_headers,
)
from ingest.simulation import simulator
from ingest.simulation.base import SigningContext
from ingest.sources import SourceConfig

URL = "https://ingest.example.com/webhooks/test"


def request(
    body: bytes,
    headers: Mapping[str, str],
    *,
    url: str = URL,
    method: str = "POST",
    client_ip: str | None = None,
) -> InboundRequest:
    return InboundRequest(
        method=method, url=url, headers=lower_headers(headers), body=body, client_ip=client_ip
    )


def verify(
    handler: VendorHandler,
    body: bytes,
    headers: Mapping[str, str],
    source: SourceConfig,
    now: float,
    documents: Mapping[str, bytes] | None = None,
    *,
    url: str = URL,
) -> Verdict:
    return handler.verify(
        Verification(request(body, headers, url=url), source, now, documents or {})
    )


def identify(
    handler: VendorHandler,
    body: bytes,
    headers: Mapping[str, str],
    source: SourceConfig | None = None,
) -> Identity:
    source = source or SourceConfig(name="test", vendor=handler.vendor, secrets=("x",))
    return handler.identify(request(body, headers), source)


def sign_headers(
    handler: VendorHandler,
    body: bytes,
    secret: str,
    now: float,
    event_type: str | None = None,
    *,
    url: str = URL,
) -> dict[str, str]:
    source = SourceConfig(name="test", vendor=handler.vendor, secrets=(secret,))
    return (
        simulator(handler)
        .sign(body, SigningContext(source=source, url=url, secret=secret), now, event_type)
        .headers
    )
