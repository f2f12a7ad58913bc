"""Every call we make to the outside (vendor certificates, key sets, subscription confirmations)
goes through one client: https only, a per-vendor host allowlist, timeouts, retries with jittered
exponential backoff, a circuit breaker per host, and a cache.

A forged certificate URL is the classic SSRF in webhook verification (a signature "checked"
against a certificate the attacker serves, or a request to an internal address); the allowlist
is checked before any connection is made, and redirects are never followed.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from ingest.errors import IngestError
from ingest.logs import get_logger

log = get_logger("ingest.outbound")

MAX_DOCUMENT_BYTES = 1_048_576


class OutboundError(IngestError):
    """The outside could not be reached or answered badly: the caller answers 503 and the vendor
    retries later."""


class HostNotAllowedError(OutboundError):
    """The URL is not https or its host is not on the vendor's allowlist: never fetched."""


@dataclass
class _Breaker:
    failures: int = 0
    open_until: float = 0.0


@dataclass
class _Cached:
    body: bytes
    expires_at: float


@dataclass
class OutboundClient:
    """Shared by every source; `transport` is injectable so tests never touch the network."""

    timeout_seconds: float = 5.0
    attempts: int = 3
    backoff_seconds: float = 0.2
    breaker_threshold: int = 5
    breaker_cooldown_seconds: float = 30.0
    transport: httpx.AsyncBaseTransport | None = None
    _breakers: dict[str, _Breaker] = field(default_factory=dict)
    _cache: dict[str, _Cached] = field(default_factory=dict)
    _client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.timeout_seconds,
                follow_redirects=False,
                transport=self.transport,
                headers={"User-Agent": "ingest-webhooks/1"},
            )
        return self._client

    @staticmethod
    def check_url(url: str, allowed_hosts: Sequence[re.Pattern[str]]) -> str:
        """The host, if `url` is https on an allowed host with no credentials or odd port."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme != "https" or not host or parts.username or parts.password:
            raise HostNotAllowedError(f"refusing to fetch a non-https URL for host {host!r}")
        if parts.port not in (None, 443):
            raise HostNotAllowedError(f"refusing port {parts.port} on {host}")
        if not any(pattern.fullmatch(host) for pattern in allowed_hosts):
            raise HostNotAllowedError(f"host {host!r} is not on this vendor's allowlist")
        return host

    async def get(
        self,
        url: str,
        *,
        allowed_hosts: Sequence[re.Pattern[str]],
        cache_seconds: float = 0.0,
    ) -> bytes:
        host = self.check_url(url, allowed_hosts)
        now = time.monotonic()
        cached = self._cache.get(url)
        if cached is not None and cached.expires_at > now:
            return cached.body
        breaker = self._breakers.setdefault(host, _Breaker())
        if breaker.open_until > now:
            raise OutboundError(f"{host} failed repeatedly; not retrying for a while")
        error = "no attempt made"
        for attempt in range(1, self.attempts + 1):
            try:
                response = await self._http().get(url)
            except httpx.HTTPError as exc:
                error = type(exc).__name__
            else:
                if response.status_code == 200 and len(response.content) <= MAX_DOCUMENT_BYTES:
                    breaker.failures = 0
                    if cache_seconds > 0:
                        self._cache[url] = _Cached(response.content, now + cache_seconds)
                    return response.content
                error = f"HTTP {response.status_code}"
                if 400 <= response.status_code < 500 and response.status_code != 429:
                    break  # the answer will not change on retry
            if attempt < self.attempts:
                ceiling = self.backoff_seconds * 2 ** (attempt - 1)
                await asyncio.sleep(random.uniform(0, ceiling))  # noqa: S311 - jitter
        breaker.failures += 1
        if breaker.failures >= self.breaker_threshold:
            breaker.open_until = time.monotonic() + self.breaker_cooldown_seconds
            log.warning("outbound.circuit_open", host=host, failures=breaker.failures)
        raise OutboundError(f"GET {host} failed: {error}")

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
