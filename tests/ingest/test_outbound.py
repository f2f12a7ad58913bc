"""The one door to the outside: https only, allowlisted hosts, no redirects, bounded retries, a
circuit breaker per host, a cache and a size cap. All against httpx.MockTransport: no network."""

from __future__ import annotations

import random
import re
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import httpx
import pytest
from pydantic import BaseModel, ConfigDict
from typing_extensions import override

from ingest import outbound
from ingest.documents import DocumentResolver, DocumentsUnavailableError
from ingest.handlers.base import (
    Delivery,
    Emitted,
    Identity,
    InboundRequest,
    InvalidSignatureError,
    VendorHandler,
    Verdict,
    Verification,
)
from ingest.outbound import MAX_DOCUMENT_BYTES, HostNotAllowedError, OutboundClient, OutboundError
from ingest.simulation.base import SignedRequest, SigningContext
from ingest.sources import RawOptions, SourceConfig

SNS: tuple[re.Pattern[str], ...] = (re.compile(r"^sns\.[a-zA-Z0-9\-]{3,}\.amazonaws\.com(\.cn)?$"),)
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem"
PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


class Recorder:
    """A MockTransport handler answering from a script, counting the requests it saw."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def client(self, **options: Any) -> OutboundClient:
        return OutboundClient(transport=httpx.MockTransport(self), **options)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Backoff sleeps recorded instead of slept, each at its jitter ceiling."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(outbound, "asyncio", SimpleNamespace(sleep=sleep))
    monkeypatch.setattr(random, "uniform", lambda low, high: high)  # the module uses random.uniform
    return slept


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The module's clock only: the event loop keeps the real time.monotonic."""
    fake = Clock()
    monkeypatch.setattr(outbound, "time", fake)
    return fake


def ok(body: bytes = PEM) -> httpx.Response:
    return httpx.Response(200, content=body)


# -- which URLs are fetched at all ----------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-east-1.amazonaws.com/cert.pem",
        "ftp://sns.us-east-1.amazonaws.com/cert.pem",
        "//sns.us-east-1.amazonaws.com/cert.pem",
        "https:///cert.pem",
        "https://sns.us-east-1.amazonaws.com@evil.com/x.pem",
        "https://user:pw@sns.us-east-1.amazonaws.com/x.pem",
        "https://evil.com\\@sns.us-east-1.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com%2f@evil.com/x.pem",
        "https://sns.us-east-1.amazonaws.com.evil.com/x.pem",
        "https://evil.com/sns.us-east-1.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com:8443/x.pem",
        "https://sns.us-east-1.amazonaws.com:80/x.pem",
        "https://sns.us-east-1.amazonaws.com:abc/x.pem",
        "https://sns.us-east-1.amazonaws.com:99999/x.pem",
        "https://sns.us-east-1.amazonaws.com./x.pem",
        "https://sns.us-east-1.amazonaws.com\t.evil.com/x.pem",
        "https://sns.us-east-1.amazonaws.com\n/x.pem",
        "https://[::1]/x.pem",
        "https://[::1/x.pem",
        "https://127.0.0.1/x.pem",
        "https://169.254.169.254/latest/meta-data/",
        "https://sns.us-east-1.amazonaws.cöm/x.pem",
        "",
        "not a url",
    ],
)
async def test_refused_urls_are_never_requested(url: str) -> None:
    recorder = Recorder(ok())
    with pytest.raises(HostNotAllowedError):
        await recorder.client().get(url, allowed_hosts=SNS)
    assert recorder.requests == []


@pytest.mark.parametrize(
    "url",
    [
        CERT_URL,
        "https://SNS.US-EAST-1.AMAZONAWS.COM/cert.pem",
        "HTTPS://sns.us-east-1.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com:443/cert.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/cert.pem",
        "https://sns.us-east-1.amazonaws.com/cert.pem#@evil.com",
        "https://sns.us-east-1.amazonaws.com/cert.pem?@evil.com",
    ],
)
async def test_allowed_urls_go_to_the_allowed_host(url: str) -> None:
    recorder = Recorder(ok())
    assert await recorder.client().get(url, allowed_hosts=SNS) == PEM
    (sent,) = recorder.requests
    assert sent.url.scheme == "https"
    assert SNS[0].fullmatch(sent.url.host)
    assert sent.headers["user-agent"] == "ingest-webhooks/1"


def test_check_url_returns_the_lower_case_host() -> None:
    host = OutboundClient.check_url("https://SNS.us-east-1.AmazonAWS.com/x.pem", SNS)
    assert host == "sns.us-east-1.amazonaws.com"


async def test_an_empty_allowlist_allows_nothing() -> None:
    recorder = Recorder(ok())
    with pytest.raises(HostNotAllowedError):
        await recorder.client().get(CERT_URL, allowed_hosts=())
    assert recorder.requests == []


# -- redirects, retries, backoff ------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_redirects_are_not_followed_nor_retried(status: int, sleeps: list[float]) -> None:
    recorder = Recorder(
        httpx.Response(status, headers={"Location": "https://sns.eu-west-1.amazonaws.com/x.pem"})
    )
    with pytest.raises(OutboundError, match=f"HTTP {status}"):
        await recorder.client().get(CERT_URL, allowed_hosts=SNS)
    assert len(recorder.requests) == 1
    assert sleeps == []


async def test_5xx_is_retried_with_exponential_backoff(sleeps: list[float]) -> None:
    recorder = Recorder(httpx.Response(503), httpx.Response(502), ok())
    client = recorder.client(attempts=3, backoff_seconds=0.2)
    assert await client.get(CERT_URL, allowed_hosts=SNS) == PEM
    assert len(recorder.requests) == 3
    assert sleeps == pytest.approx([0.2, 0.4])  # jitter ceilings: 0.2 · 2^(attempt-1)


@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadTimeout("slow"),
        httpx.ConnectTimeout("slow"),
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("reset"),
    ],
)
async def test_timeouts_and_connection_errors_are_retried_then_fail(
    error: Exception, sleeps: list[float]
) -> None:
    recorder = Recorder(error)
    with pytest.raises(OutboundError, match=type(error).__name__):
        await recorder.client(attempts=4).get(CERT_URL, allowed_hosts=SNS)
    assert len(recorder.requests) == 4
    assert len(sleeps) == 3  # none after the last attempt


async def test_429_is_retried(sleeps: list[float]) -> None:
    recorder = Recorder(httpx.Response(429), ok())
    assert await recorder.client().get(CERT_URL, allowed_hosts=SNS) == PEM
    assert len(recorder.requests) == 2


@pytest.mark.parametrize("status", [400, 403, 404, 410])
async def test_4xx_is_not_retried(status: int, sleeps: list[float]) -> None:
    recorder = Recorder(httpx.Response(status))
    with pytest.raises(OutboundError, match=f"HTTP {status}"):
        await recorder.client(attempts=5).get(CERT_URL, allowed_hosts=SNS)
    assert len(recorder.requests) == 1
    assert sleeps == []


# -- circuit breaker -----------------------------------------------------------------------


async def test_the_breaker_opens_after_the_threshold_and_short_circuits(
    sleeps: list[float], clock: Clock
) -> None:
    recorder = Recorder(httpx.Response(503))
    client = recorder.client(attempts=2, breaker_threshold=3, breaker_cooldown_seconds=30)
    for _ in range(3):
        with pytest.raises(OutboundError, match="HTTP 503"):
            await client.get(CERT_URL, allowed_hosts=SNS)
    assert len(recorder.requests) == 6
    with pytest.raises(OutboundError, match="failed repeatedly"):
        await client.get(CERT_URL, allowed_hosts=SNS)
    assert len(recorder.requests) == 6  # short-circuited: no request made
    # Other hosts have their own breaker.
    recorder.answers = [ok()]
    assert await client.get("https://sns.eu-west-1.amazonaws.com/x.pem", allowed_hosts=SNS)
    # After the cooldown one request is let through again (half-open)…
    clock.now += 31
    recorder.answers = [httpx.Response(503)]
    with pytest.raises(OutboundError, match="HTTP 503"):
        await client.get(CERT_URL, allowed_hosts=SNS)
    assert len(recorder.requests) == 7 + 2
    # …and a failure then reopens it at once.
    with pytest.raises(OutboundError, match="failed repeatedly"):
        await client.get(CERT_URL, allowed_hosts=SNS)
    clock.now += 31
    recorder.answers = [ok()]
    assert await client.get(CERT_URL, allowed_hosts=SNS) == PEM
    # A success closes it: the count starts again from zero.
    recorder.answers = [httpx.Response(503)]
    for _ in range(2):
        with pytest.raises(OutboundError, match="HTTP 503"):
            await client.get(CERT_URL, allowed_hosts=SNS)


async def test_404s_from_forged_urls_do_not_open_the_breaker(sleeps: list[float]) -> None:
    """Certificate URLs arrive in requests anyone can send: a stranger posting bogus URLs on the
    vendor's host must not be able to fail the vendor's genuine deliveries."""
    recorder = Recorder(httpx.Response(404))
    client = recorder.client(breaker_threshold=2)
    for index in range(5):
        with pytest.raises(OutboundError, match="HTTP 404"):
            await client.get(f"{CERT_URL}?forged={index}", allowed_hosts=SNS)
    recorder.answers = [ok()]
    assert await client.get(CERT_URL, allowed_hosts=SNS) == PEM


# -- cache ---------------------------------------------------------------------------------


async def test_cache_hit_within_ttl_and_refetch_after(clock: Clock) -> None:
    recorder = Recorder(ok(b"first"), ok(b"second"))
    client = recorder.client()
    assert await client.get(CERT_URL, allowed_hosts=SNS, cache_seconds=60) == b"first"
    clock.now += 59
    assert await client.get(CERT_URL, allowed_hosts=SNS, cache_seconds=60) == b"first"
    assert len(recorder.requests) == 1
    clock.now += 2
    assert await client.get(CERT_URL, allowed_hosts=SNS, cache_seconds=60) == b"second"
    assert len(recorder.requests) == 2


async def test_no_cache_by_default_and_failures_are_not_cached(sleeps: list[float]) -> None:
    recorder = Recorder(ok(b"a"), ok(b"b"), httpx.Response(404), ok(b"c"))
    client = recorder.client()
    assert await client.get(CERT_URL, allowed_hosts=SNS) == b"a"
    assert await client.get(CERT_URL, allowed_hosts=SNS) == b"b"
    with pytest.raises(OutboundError):
        await client.get(CERT_URL, allowed_hosts=SNS, cache_seconds=60)
    assert await client.get(CERT_URL, allowed_hosts=SNS, cache_seconds=60) == b"c"


async def test_the_cache_still_checks_the_allowlist() -> None:
    recorder = Recorder(ok())
    client = recorder.client()
    await client.get(CERT_URL, allowed_hosts=SNS, cache_seconds=60)
    with pytest.raises(HostNotAllowedError):
        await client.get(CERT_URL, allowed_hosts=(re.compile(r"example\.com"),))


# -- size cap ------------------------------------------------------------------------------


async def test_a_document_at_the_cap_is_fine() -> None:
    body = b"x" * MAX_DOCUMENT_BYTES
    assert await Recorder(ok(body)).client().get(CERT_URL, allowed_hosts=SNS) == body


async def test_a_document_over_the_cap_is_refused_and_not_retried(sleeps: list[float]) -> None:
    recorder = Recorder(ok(b"x" * (MAX_DOCUMENT_BYTES + 1)))
    with pytest.raises(OutboundError, match="too large"):
        await recorder.client().get(CERT_URL, allowed_hosts=SNS)
    assert len(recorder.requests) == 1


async def test_an_endless_body_is_abandoned_past_the_cap(sleeps: list[float]) -> None:
    produced: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        while True:
            produced.append(1)
            yield b"x" * 65_536

    recorder = Recorder(httpx.Response(200, content=endless()))
    with pytest.raises(OutboundError, match="too large"):
        await recorder.client().get(CERT_URL, allowed_hosts=SNS)
    assert len(produced) <= MAX_DOCUMENT_BYTES // 65_536 + 2


async def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    async def never_read() -> AsyncIterator[bytes]:
        raise AssertionError("the body was read")
        yield b""  # pragma: no cover - makes this an async generator

    response = httpx.Response(
        200, headers={"Content-Length": str(MAX_DOCUMENT_BYTES + 1)}, content=never_read()
    )
    with pytest.raises(OutboundError, match="too large"):
        await Recorder(response).client().get(CERT_URL, allowed_hosts=SNS)


async def test_close_is_idempotent() -> None:
    client = Recorder(ok()).client()
    await client.get(CERT_URL, allowed_hosts=SNS)
    await client.close()
    await client.close()


# -- DocumentResolver ----------------------------------------------------------------------


class PinnedOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    certificates: dict[str, str] = {}


class CertificateVendor(VendorHandler):
    """Not in handlers/: a stand-in whose certificate URL comes from the request body."""

    vendor: ClassVar[str] = "cert-vendor"
    document_hosts: ClassVar[tuple[re.Pattern[str], ...]] = SNS
    document_cache_seconds: ClassVar[float] = 60.0

    options_model: ClassVar[type[BaseModel]] = PinnedOptions

    @override
    def documents(self, request: InboundRequest) -> list[str]:
        return [request.body.decode()]

    @override
    def pinned_documents(self, source: SourceConfig) -> Mapping[str, str]:
        return self.options(source, PinnedOptions).certificates

    # Only documents are asked of this stand-in.
    @override
    def verify(self, check: Verification) -> Verdict:
        raise NotImplementedError

    @override
    def identify(self, request: InboundRequest, source: SourceConfig) -> Identity:
        raise NotImplementedError

    @override
    def normalize(self, delivery: Delivery) -> list[Emitted]:
        raise NotImplementedError

    def sample(self, event_type: str | None) -> bytes:
        raise NotImplementedError

    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        raise NotImplementedError


def inbound(url: str) -> InboundRequest:
    return InboundRequest(method="POST", url="https://ingest/x", headers={}, body=url.encode())


def source_with(pinned: Mapping[str, str] | None = None) -> SourceConfig:
    return SourceConfig(
        name="certs", vendor="cert-vendor", options=PinnedOptions(certificates=dict(pinned or {}))
    )


async def test_a_pinned_file_is_read_instead_of_fetched(tmp_path: Path) -> None:
    pem = tmp_path / "cert.pem"
    pem.write_bytes(PEM)
    recorder = Recorder(ok(b"fetched"))
    resolver = DocumentResolver(recorder.client())
    documents = await resolver.resolve(
        CertificateVendor(), inbound(CERT_URL), source_with({CERT_URL: str(pem)})
    )
    assert documents == {CERT_URL: PEM}
    assert recorder.requests == []


async def test_a_missing_pinned_file_is_unavailable_not_fetched(tmp_path: Path) -> None:
    recorder = Recorder(ok())
    resolver = DocumentResolver(recorder.client())
    with pytest.raises(DocumentsUnavailableError, match="pinned file"):
        await resolver.resolve(
            CertificateVendor(),
            inbound(CERT_URL),
            source_with({CERT_URL: str(tmp_path / "absent.pem")}),
        )
    assert recorder.requests == []


async def test_an_unpinned_url_is_fetched_and_cached() -> None:
    recorder = Recorder(ok())
    resolver = DocumentResolver(recorder.client())
    for _ in range(2):
        documents = await resolver.resolve(CertificateVendor(), inbound(CERT_URL), source_with())
        assert documents == {CERT_URL: PEM}
    assert len(recorder.requests) == 1  # the vendor's document_cache_seconds


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/cert.pem",
        "http://sns.us-east-1.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com@evil.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com:99999/cert.pem",
    ],
)
async def test_a_disallowed_host_is_an_invalid_signature(url: str) -> None:
    recorder = Recorder(ok())
    with pytest.raises(InvalidSignatureError):
        await DocumentResolver(recorder.client()).resolve(
            CertificateVendor(), inbound(url), source_with()
        )
    assert recorder.requests == []


@pytest.mark.parametrize(
    "answer", [httpx.Response(503), httpx.Response(404), httpx.ConnectTimeout("slow")]
)
async def test_a_fetch_failure_is_documents_unavailable(
    answer: httpx.Response | Exception, sleeps: list[float]
) -> None:
    resolver = DocumentResolver(Recorder(answer).client())
    with pytest.raises(DocumentsUnavailableError):
        await resolver.resolve(CertificateVendor(), inbound(CERT_URL), source_with())


async def test_sources_without_pinned_certificates() -> None:
    """Options without a `certificates` key (or a raw mapping) mean nothing is pinned."""
    resolver = DocumentResolver(Recorder(ok()).client())
    plain = SourceConfig(name="certs", vendor="cert-vendor", options=RawOptions.of({}))
    assert await resolver.resolve(CertificateVendor(), inbound(CERT_URL), plain) == {CERT_URL: PEM}
