"""Every call we make to the outside (vendor certificates, key sets, subscription confirmations)
goes through one client: https only, a per-vendor host allowlist, timeouts, retries with jittered
exponential backoff, a circuit breaker per host, and a cache.

A forged certificate URL is the classic SSRF in webhook verification (a signature "checked"
against a certificate the attacker serves, or a request to an internal address); the allowlist
is checked before any connection is made, and redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
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


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class OutboundError(IngestError):
    """The outside could not be reached or answered badly: the caller answers 503 and the vendor
    retries later."""


class HostNotAllowedError(OutboundError):
    """The URL is not https or its host is not on the vendor's allowlist: never fetched."""


@dataclass
class _Breaker:
    failures: int = 0
    open_until: float = 0.0


@dataclass(frozen=True)
class _Failure:
    reason: str
    transient: bool
    """The host may answer better later (timeouts, resets, 5xx, 429): retried, and counted by
    the circuit breaker."""


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
        """The host, if `url` is https on an allowed host with no credentials or odd port.

        The URL is parsed twice, by urllib and by httpx (which makes the request), and refused if
        they disagree on the scheme or the host: an allowlist checked against one parser's
        reading of a URL and a request sent to another's is the classic SSRF bypass.
        """
        try:
            parts = urlsplit(url)
            port = parts.port  # raises ValueError for "abc" or 99999
            wire = httpx.URL(url)
        except (ValueError, httpx.InvalidURL):
            raise HostNotAllowedError("refusing a malformed URL") from None
        host = (parts.hostname or "").lower()
        if parts.scheme != "https" or not host or parts.username or parts.password:
            raise HostNotAllowedError(f"refusing to fetch a non-https URL for host {host!r}")
        if port not in (None, 443):
            raise HostNotAllowedError(f"refusing port {port} on {host}")
        if not host.isascii() or _is_ip_literal(host):
            raise HostNotAllowedError(f"refusing host {host!r}: certificates come from DNS names")
        if wire.scheme != "https" or wire.raw_host.decode("ascii", "replace").lower() != host:
            raise HostNotAllowedError(f"refusing an ambiguous URL for host {host!r}")
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
        failure = _Failure("no attempt made", transient=False)
        for attempt in range(1, self.attempts + 1):
            outcome = await self._fetch(url)
            if isinstance(outcome, bytes):
                breaker.failures = 0
                if cache_seconds > 0:
                    self._cache[url] = _Cached(outcome, now + cache_seconds)
                return outcome
            failure = outcome
            if not failure.transient:
                break  # the answer will not change on retry
            if attempt < self.attempts:
                ceiling = self.backoff_seconds * 2 ** (attempt - 1)
                await asyncio.sleep(random.uniform(0, ceiling))  # noqa: S311 - jitter
        # Only a host that is down or overloaded trips the breaker. A 404 or an oversized
        # document is about one URL, and those URLs come from requests anyone can send: counting
        # them would let a stranger open the breaker and fail the vendor's genuine deliveries.
        if failure.transient:
            breaker.failures += 1
            if breaker.failures >= self.breaker_threshold:
                breaker.open_until = time.monotonic() + self.breaker_cooldown_seconds
                log.warning("outbound.circuit_open", host=host, failures=breaker.failures)
        raise OutboundError(f"GET {host} failed: {failure.reason}")

    async def _fetch(self, url: str) -> bytes | _Failure:
        """One attempt. The body is read as a stream and abandoned past MAX_DOCUMENT_BYTES, so
        a huge (or endless) answer never sits in memory."""
        try:
            async with self._http().stream("GET", url) as response:
                status = response.status_code
                if status != 200:
                    # 3xx included: redirects are never followed, and retrying will not help.
                    return _Failure(f"HTTP {status}", transient=status >= 500 or status == 429)
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > MAX_DOCUMENT_BYTES:
                    return _Failure("document too large", transient=False)
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_DOCUMENT_BYTES:
                        return _Failure("document too large", transient=False)
                return bytes(body)
        except httpx.HTTPError as exc:
            return _Failure(type(exc).__name__, transient=True)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
