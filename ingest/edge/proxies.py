"""The client's address behind a load balancer: taken from `X-Forwarded-For` only when the
request came from a proxy we were told to trust (`INGEST_TRUSTED_PROXIES`).

By default no proxy is trusted and `X-Forwarded-For` is ignored: anyone can write that header,
and an `ip_allowlist` that believed it would let anyone in. (uvicorn itself would trust it from
127.0.0.1; `ingest serve` turns that off.) Behind trusted proxies, the client is the rightmost
address in the header that is not itself a trusted proxy — the leftmost entries were written by
the client and prove nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ingest.networks import IpAddress, IpNetwork, client_address

MAX_HOPS = 20


def _address(text: str) -> IpAddress | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    return client_address(text)


class TrustedProxiesMiddleware:
    def __init__(self, app: ASGIApp, trusted: Sequence[IpNetwork] = ()) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    def _trusted(self, address: IpAddress | None) -> bool:
        return address is not None and any(address in network for network in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.trusted:
            peer = scope.get("client")
            if peer and self._trusted(_address(peer[0])):
                scope = dict(scope)
                headers = Headers(scope=scope)
                client = self._client(headers.getlist("x-forwarded-for"))
                if client is not None:
                    scope["client"] = (client, 0)
                proto = headers.get("x-forwarded-proto", "").strip().lower()
                if proto in {"http", "https"}:
                    scope["scheme"] = proto
        await self.app(scope, receive, send)

    def _client(self, values: list[str]) -> str | None:
        hops = [hop for value in values for hop in value.split(",")][-MAX_HOPS:]
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                return None  # a malformed hop: trust nothing further left
            if not self._trusted(address):
                return str(address)
        return None
