"""The load generators of `bench/ingest_rate.py`: signed Stripe requests, a closed loop (a fixed
number of requests in flight) and an open loop (requests on a timetable).

A module of its own because `--client-processes` runs `client_process` in spawned processes,
which import it by name; and because what the benchmark sends, and how, is worth reading apart
from how it is reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any, Literal

import httpx

from ingest.handlers.stripe import StripeHandler
from ingest.simulation import simulator
from ingest.simulation.base import SigningContext
from ingest.sources import SourceConfig

SECRET = "whsec_bench_secret"  # noqa: S105 - a throwaway signing key for local servers
EVENT_TYPE = "payment_intent.succeeded"
SOURCE = "stripe"
WEBHOOK_PATH = f"/webhooks/{SOURCE}"

STARTUP_TIMEOUT_SECONDS = 60.0
REQUEST_TIMEOUT_SECONDS = 30.0
MAX_FAILURES_SHOWN = 5
OPEN_LOOP_CONNECTIONS = 32
"""Connections opened before an open-loop phase; more are opened if all are busy, up to
OPEN_LOOP_MAX_CONNECTIONS (beyond the service's 64 admitted requests they would only queue)."""
OPEN_LOOP_MAX_CONNECTIONS = 256
STALE_CONNECTION_SECONDS = 2.0
"""An open-loop connection idle this long is replaced before it is used: uvicorn closes idle
keep-alive connections after 5 s (`timeout_keep_alive` in ingest/server.py), and a request
written just as the server closes its connection would fail with an empty read."""

Kind = Literal["bare", "ingest"]
Expect = Literal["accepted", "duplicate"]


# -- requests ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedRequest:
    """One Stripe event, signed; `event_id` is what the sink must eventually contain."""

    body: bytes
    headers: dict[str, str]
    event_id: str
    wire: bytes
    """The whole HTTP/1.1 request, for the raw client."""
    expect: Expect = "accepted"
    """`duplicate` for a redelivery of an event the service has already accepted."""


def http_request(headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"POST {WEBHOOK_PATH} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Signer:
    """Builds requests just before their phase: Stripe signatures expire after 300 s.

    Signing happens before the clock starts so that the load generator spends its CPU on HTTP
    only. Both servers get the same kind of requests (size, headers), so only the endpoint
    differs.
    """

    def __init__(self) -> None:
        self.handler = StripeHandler()
        source = SourceConfig(name=SOURCE, vendor="stripe", secrets=(SECRET,))
        self.context = SigningContext(
            source=source, url=f"http://127.0.0.1/webhooks/{SOURCE}", secret=SECRET
        )

    def sign(self, body: bytes, event_id: str, expect: Expect = "accepted") -> SignedRequest:
        headers = simulator(self.handler).sign(body, self.context, time.time()).headers
        return SignedRequest(body, headers, event_id, http_request(headers, body), expect)

    def fresh(self, count: int) -> list[SignedRequest]:
        """`count` distinct new events."""
        requests = []
        for _ in range(count):
            body = simulator(self.handler).sample(EVENT_TYPE)
            requests.append(self.sign(body, json.loads(body)["id"]))
        return requests

    def redelivery(self, body: bytes, event_id: str) -> SignedRequest:
        """What a vendor sends when it did not get (or believe) our answer: the same event, with
        a new signature, since Stripe signs every delivery attempt afresh."""
        return self.sign(body, event_id, "duplicate")


def redelivery_positions(count: int, share: float) -> list[int]:
    """Indices of `round(count * share)` requests spread evenly through a phase."""
    return [i for i in range(count) if math.floor((i + 1) * share) > math.floor(i * share)]


# -- load generator ------------------------------------------------------------------------------


@dataclass
class LoadResult:
    """What one load-generator process saw in one phase (pickled back from child processes)."""

    started: float = 0.0
    """time.perf_counter() (CLOCK_MONOTONIC: comparable across processes) at the first timed
    request."""
    finished: float = 0.0
    """time.perf_counter() after the last timed response: the last ack."""
    latencies: list[float] = field(default_factory=list)
    """Of every timed success (accepted and duplicate answers)."""
    redelivery_latencies: list[float] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    """Inbox ids the service answered `accepted` with (warm-up included): all distinct if all is
    well, and parallel to `accepted` for ingest phases."""
    accepted: list[str] = field(default_factory=list)
    """Stripe event ids of the requests answered with success (warm-up included)."""
    duplicates: list[tuple[str, int]] = field(default_factory=list)
    """(Stripe event id, inbox id) of every `duplicate` answer."""
    ack_times: dict[str, float] = field(default_factory=dict)
    """perf_counter() of each timed event's 2xx (open loop only)."""
    lateness: list[float] = field(default_factory=list)
    """How late each timed request left against its timetable (open loop only)."""
    failures: list[str] = field(default_factory=list)
    failure_count: int = 0
    warmup_failure_count: int = 0
    client_cpu_seconds: float = 0.0

    def record(
        self,
        request: SignedRequest,
        kind: Kind,
        status: int,
        body: bytes,
        elapsed: float,
        *,
        timed: bool,
    ) -> str | None:
        """Account for one response; returns why it is not the expected success, or None."""
        problem, inbox_id = check_response(status, body, kind, request.expect)
        if problem is not None:
            return problem
        if timed:
            self.latencies.append(elapsed)
        if request.expect == "duplicate" and kind == "ingest":
            assert inbox_id is not None  # noqa: S101 - check_response guarantees it
            self.duplicates.append((request.event_id, inbox_id))
            if timed:
                self.redelivery_latencies.append(elapsed)
        else:
            self.accepted.append(request.event_id)
            if inbox_id is not None:
                self.ids.append(inbox_id)
        return None

    def fail(self, problem: str, *, timed: bool) -> None:
        if timed:
            self.failure_count += 1
        else:
            self.warmup_failure_count += 1
        if len(self.failures) < MAX_FAILURES_SHOWN:
            self.failures.append(problem)


def check_response(
    status: int, body: bytes, kind: Kind, expect: Expect
) -> tuple[str | None, int | None]:
    """(why the response is not a success or None, the inbox id): `ingest` must answer `expect`
    (`accepted`, or `duplicate` for a redelivery) with an integer id."""
    if status != 200:
        return f"HTTP {status}: {body[:200]!r}", None
    if kind == "bare":
        return None, None
    try:
        document = json.loads(body)
    except ValueError:
        return f"not JSON: {body[:200]!r}", None
    if document.get("status") != expect or not isinstance(document.get("id"), int):
        return f"not {expect}: {body[:200]!r}", None
    return None, document["id"]


Send = Callable[[SignedRequest], Awaitable[tuple[int, bytes]]]
"""POST one request to the webhook endpoint; returns (status, body)."""

TRANSPORT_ERRORS = (httpx.HTTPError, OSError, EOFError, asyncio.LimitOverrunError, ValueError)


class ProtocolError(ValueError):
    """A response the raw client does not handle (no Content-Length, chunked)."""


class RawConnection:
    """HTTP/1.1 on one keep-alive TCP connection, and nothing more: the default load generator.

    httpx costs 0.7-1.2 ms of client CPU per request here (its connection pool scans every
    connection on each request, and httpcore 1.0.9 retries a failing `import sniffio` each time
    it creates a lock: encode/httpcore#1103), which caps one client process at ~800 requests/s,
    a thirtieth of what the bare server sustains; on 2 cores more client processes only take the
    server's core. Pre-encoded requests and a Content-Length parser cost ~20 us per request, so
    the bare phase measures the server, not the client. `--client httpx` remains for comparison.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.last_used = time.perf_counter()
        """When the connection last finished an exchange (or was opened)."""

    async def connect(self) -> None:
        """Open the connection now rather than on the first request (open-loop warm start)."""
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            self.last_used = time.perf_counter()

    def discard(self) -> None:
        """Drop the connection without waiting for the close; the next request reconnects."""
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()

    async def send(self, request: SignedRequest) -> tuple[int, bytes]:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_SECONDS):
                return await self._exchange(request.wire)
        except BaseException:
            await self.close()  # a half-read response would poison the next one
            raise

    async def _exchange(self, wire: bytes) -> tuple[int, bytes]:
        await self.connect()
        reader, writer = self._reader, self._writer
        assert reader is not None  # noqa: S101 - connect() set it
        assert writer is not None  # noqa: S101 - connect() set it
        writer.write(wire)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length: int | None = None
        close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
            elif name == b"transfer-encoding":
                raise ProtocolError("chunked responses are not supported")
        if length is None:
            raise ProtocolError("response without Content-Length")
        body = await reader.readexactly(length)
        self.last_used = time.perf_counter()
        if close:
            await self.close()
        return status, body

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


@contextlib.asynccontextmanager
async def raw_senders(url: str, concurrency: int) -> AsyncIterator[list[Send]]:
    address = httpx.URL(url)
    connections = [RawConnection(address.host, address.port or 80) for _ in range(concurrency)]
    try:
        yield [connection.send for connection in connections]
    finally:
        for connection in connections:
            await connection.close()


@contextlib.asynccontextmanager
async def httpx_senders(url: str, concurrency: int) -> AsyncIterator[list[Send]]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=url,
        limits=limits,
        timeout=REQUEST_TIMEOUT_SECONDS,
        trust_env=False,  # never through a proxy from the environment: 127.0.0.1 directly
    ) as client:

        async def send(request: SignedRequest) -> tuple[int, bytes]:
            response = await client.post(
                WEBHOOK_PATH, content=request.body, headers=request.headers
            )
            return response.status_code, response.content

        yield [send] * concurrency


SENDERS: dict[str, Callable[[str, int], contextlib.AbstractAsyncContextManager[list[Send]]]] = {
    "raw": raw_senders,
    "httpx": httpx_senders,
}


async def generate_load(
    url: str,
    kind: Kind,
    client: str,
    warmup: Sequence[SignedRequest],
    measured: Sequence[SignedRequest],
    concurrency: int,
    gate: Callable[[], Awaitable[None]],
) -> LoadResult:
    """`concurrency` keep-alive connections, each sending its next request when the last answers.

    A closed loop with a fixed number of requests in flight, like a vendor's delivery workers: the
    rate is what the server sustains at that concurrency, and latency includes queueing in the
    server. `gate` is awaited between warm-up and timing (a barrier across client processes).
    """
    result = LoadResult()
    async with SENDERS[client](url, concurrency) as senders:

        async def run(requests: Sequence[SignedRequest], timed: bool) -> None:
            position = 0

            async def worker(send: Send) -> None:
                nonlocal position
                while position < len(requests):
                    request = requests[position]
                    position += 1
                    began = time.perf_counter()
                    try:
                        status, body = await send(request)
                    except TRANSPORT_ERRORS as exc:
                        problem: str | None = f"{type(exc).__name__}: {exc}"
                    else:
                        elapsed = time.perf_counter() - began
                        problem = result.record(request, kind, status, body, elapsed, timed=timed)
                    if problem is not None:
                        result.fail(problem, timed=timed)

            await asyncio.gather(*(worker(send) for send in senders))

        await run(warmup, timed=False)
        await gate()
        cpu_before = time.process_time()
        result.started = time.perf_counter()
        await run(measured, timed=True)
        result.finished = time.perf_counter()
        result.client_cpu_seconds = time.process_time() - cpu_before
    return result


class OpenLoop:
    """Requests leave at `rate` per second on a timetable, whatever the responses do.

    A closed loop cannot measure latency at a given rate: it slows down with the server, so a
    slow answer delays the requests behind it instead of queueing them (coordinated omission).
    Here request i is due at start + i / rate; it goes out on an idle keep-alive connection (a
    new one if all are busy), and its latency runs from when it was *due*, so any lag of this
    client counts against the service, not for it. How late each request left is recorded
    (`lateness`): if it grows, the client could not keep the timetable, and the output says so.
    Always the raw client: httpx could not keep 500 requests/s here.
    """

    def __init__(self, url: str, rate: float) -> None:
        address = httpx.URL(url)
        self.host, self.port = address.host, address.port or 80
        self.rate = rate
        self.result = LoadResult()
        self.connections = [
            RawConnection(self.host, self.port) for _ in range(OPEN_LOOP_CONNECTIONS)
        ]
        self.idle = list(self.connections)
        self.returned = asyncio.Event()

    async def run(
        self,
        warmup: Sequence[SignedRequest],
        measured: Sequence[SignedRequest],
        gate: Callable[[], Awaitable[None]],
    ) -> LoadResult:
        result = self.result
        try:
            await asyncio.gather(*(connection.connect() for connection in self.connections))
            await self._timetable(warmup, timed=False)
            await gate()
            cpu_before = time.process_time()
            result.started = time.perf_counter()
            await self._timetable(measured, timed=True)
            result.finished = time.perf_counter()
            result.client_cpu_seconds = time.process_time() - cpu_before
        finally:
            for connection in self.connections:
                await connection.close()
        return result

    async def _timetable(self, requests: Sequence[SignedRequest], *, timed: bool) -> None:
        tasks: list[asyncio.Task[None]] = []
        start = time.perf_counter() + 0.005
        for index, request in enumerate(requests):
            due = start + index / self.rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            connection = await self._connection()
            if timed:
                self.result.lateness.append(time.perf_counter() - due)
            tasks.append(asyncio.create_task(self._send(connection, request, due, timed=timed)))
        await asyncio.gather(*tasks)

    async def _connection(self) -> RawConnection:
        """An idle connection (the most recently used: LIFO keeps few connections warm), a new
        one, or (at OPEN_LOOP_MAX_CONNECTIONS) the next returned. One idle for too long is
        reopened by its request, whose latency then includes the connect, as a vendor's would."""
        while not self.idle and len(self.connections) >= OPEN_LOOP_MAX_CONNECTIONS:
            self.returned.clear()
            await self.returned.wait()
        if self.idle:
            connection = self.idle.pop()
            if time.perf_counter() - connection.last_used > STALE_CONNECTION_SECONDS:
                connection.discard()
            return connection
        connection = RawConnection(self.host, self.port)
        self.connections.append(connection)
        return connection

    async def _send(
        self, connection: RawConnection, request: SignedRequest, due: float, *, timed: bool
    ) -> None:
        result = self.result
        try:
            status, body = await connection.send(request)
        except TRANSPORT_ERRORS as exc:
            problem: str | None = f"{type(exc).__name__}: {exc}"
        else:
            acked = time.perf_counter()
            problem = result.record(request, "ingest", status, body, acked - due, timed=timed)
            if problem is None and timed:
                result.ack_times[request.event_id] = acked
        finally:
            self.idle.append(connection)  # closed after an error: it reconnects when next used
            self.returned.set()
        if problem is not None:
            result.fail(problem, timed=timed)


def run_event_loop(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """uvloop when available (it is a dependency of uvicorn[standard]): a cheaper client."""
    try:
        import uvloop  # noqa: PLC0415 - optional
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def client_process(
    url: str,
    kind: Kind,
    client: str,
    warmup: list[SignedRequest],
    measured: list[SignedRequest],
    concurrency: int,
    barrier: Barrier,
    results: Queue[LoadResult],
) -> None:
    """Entry point of a spawned load-generator process (`--client-processes` > 1)."""

    async def gate() -> None:
        await asyncio.to_thread(barrier.wait, STARTUP_TIMEOUT_SECONDS)

    results.put(
        run_event_loop(generate_load(url, kind, client, warmup, measured, concurrency, gate)),
    )


def split(items: Sequence[Any], parts: int) -> list[list[Any]]:
    """`items` in `parts` nearly equal contiguous slices."""
    size, extra = divmod(len(items), parts)
    slices, start = [], 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        slices.append(list(items[start:end]))
        start = end
    return slices
