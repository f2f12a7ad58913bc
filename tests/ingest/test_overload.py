"""A real `ingest serve` against slow, greedy and too-many clients: slowloris headers and bodies
are cut off, oversized header blocks refused, an overload refused fast instead of queued, and
the server keeps serving everyone else throughout."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import make_url

from ingest.handlers.stripe import StripeHandler
from ingest.simulation import simulator
from tests import support
from tests.faults.harness import http
from tests.handlers.kit import sign_headers

stripe = StripeHandler()


@pytest.fixture
def server(
    postgres_url: str, sources: tuple[Path, support.Topics], tmp_path: Path
) -> Iterator[support.ServerProcess]:
    path, _ = sources
    env = {
        "DATABASE_URL": postgres_url,
        "INGEST_SOURCES_FILE": str(path),
        "KAFKA_BOOTSTRAP_SERVERS": "",
        "INGEST_SINK_FILE": str(tmp_path / "events.jsonl"),
        "INGEST_HEADER_TIMEOUT_SECONDS": "1",
        "INGEST_BODY_IDLE_TIMEOUT_SECONDS": "1",
        "INGEST_BODY_TIMEOUT_SECONDS": "3",
        "INGEST_MAX_IN_FLIGHT": "4",
        "INGEST_ADMISSION_WAIT_SECONDS": "0.5",
        **support.SECRET_ENV,
    }
    with support.running_server(env, tmp_path) as process:
        yield process


def port_of(server: support.ServerProcess) -> int:
    return int(server.url.rsplit(":", 1)[1])


def closed_within(sock: socket.socket, seconds: float) -> bytes | None:
    """What the server sent before closing, or None if it kept the connection open."""
    sock.settimeout(seconds)
    received = b""
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        while chunk := sock.recv(4096):
            received += chunk
        return received
    return None


def still_serving(server: support.ServerProcess) -> None:
    body = simulator(stripe).sample("payment_intent.succeeded")
    headers = sign_headers(stripe, body, support.STRIPE_SECRET, time.time())
    response = httpx.post(f"{server.url}/webhooks/stripe", content=body, headers=headers)
    assert response.status_code == 200, response.text


def test_slowloris_headers_are_cut_off(server: support.ServerProcess) -> None:
    sockets = [socket.create_connection(("127.0.0.1", port_of(server))) for _ in range(200)]
    try:
        for index, sock in enumerate(sockets):
            if index % 2:  # half send a header line and stop; half never say anything
                sock.sendall(b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        started = time.monotonic()
        still_serving(server)  # others are served while they hang
        answers = [closed_within(sock, 5) for sock in sockets]
        assert all(answer is not None for answer in answers), "a slowloris connection stayed open"
        assert time.monotonic() - started < 6
        assert all(b"408" in answer for answer in answers if answer)
    finally:
        for sock in sockets:
            sock.close()
    assert "Traceback" not in server.log()


def test_a_body_dripping_one_byte_a_second_is_cut_off(server: support.ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", port_of(server))) as sock:
        sock.sendall(
            b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        started = time.monotonic()
        answer = b""
        sock.settimeout(0.1)
        while time.monotonic() - started < 10:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(b"1\r\nx\r\n")
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                time.sleep(0.9)
                continue
            except ConnectionResetError:
                break
            if not chunk:
                break
            answer += chunk
        elapsed = time.monotonic() - started
    assert b"408" in answer.split(b"\r\n", 1)[0]
    assert elapsed < 5  # INGEST_BODY_TIMEOUT_SECONDS=3


def test_too_many_or_too_large_headers_get_431(server: support.ServerProcess) -> None:
    many = "".join(f"X-H{n}: v\r\n" for n in range(101))
    large = f"X-Big: {'v' * 70_000}\r\n"
    for extra in (many, large):
        with socket.create_connection(("127.0.0.1", port_of(server))) as sock:
            sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: x\r\n{extra}\r\n".encode())
            answer = closed_within(sock, 5)
        assert answer is not None
        assert answer.startswith(b"HTTP/1.1 431")
    still_serving(server)


async def test_an_overload_is_refused_fast_and_retried_to_completion(
    server: support.ServerProcess, postgres_url: str
) -> None:
    """Far more than four slots take at once while the database holds the four admitted (a lock
    on the inbox, as a slow disk or a long migration would): every answer within 10 s, refusals
    within 2 s, and a vendor that retries its 503s gets every event in."""
    bodies = [simulator(stripe).sample("payment_intent.succeeded") for _ in range(300)]
    timings: list[tuple[int, float]] = []
    port = port_of(server)

    async def deliver(_client: object, body: bytes) -> int:
        headers = sign_headers(stripe, body, support.STRIPE_SECRET, time.time())
        started = time.monotonic()
        # A raw client: httpx's own cost per request would compete with the server for the CPU.
        status, _ = await http(port, "POST", "/webhooks/stripe", body, headers, timeout=30)
        timings.append((status, time.monotonic() - started))
        return status

    url = make_url(postgres_url)
    blocker = await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    before = rss_mib(server)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        try:
            async with blocker.transaction():
                # Inserts wait for this lock; reads (the duplicate check) do not.
                await blocker.execute("LOCK TABLE inbox_events IN SHARE ROW EXCLUSIVE MODE")
                burst = asyncio.gather(*(deliver(client, body) for body in bodies))
                await asyncio.sleep(2)
                during = rss_mib(server)
            statuses = await burst
        finally:
            await blocker.close()
        refused = [b for b, s in zip(bodies, statuses, strict=True) if s == 503]
        assert set(statuses) <= {200, 503}
        assert refused, "nothing was refused: this was not an overload"
        assert max(t for _, t in timings) < 10
        refusals = sorted(t for s, t in timings if s == 503)
        # 99th percentile: the load generator shares the machine's two cores with the server.
        assert refusals[int(len(refusals) * 0.99) - 1] < 2, refusals[-5:]
        while refused:  # the vendor's retries
            await asyncio.sleep(0.2)
            again = await asyncio.gather(*(deliver(client, body) for body in refused))
            refused = [b for b, s in zip(refused, again, strict=True) if s == 503]
        listed = await client.get("/metrics")
    assert "ingest_admission_refusals_total" in listed.text
    # Bounded: only INGEST_MAX_IN_FLIGHT bodies are ever read at once.
    assert during - before < 150, (before, during)


def rss_mib(server: support.ServerProcess) -> float:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    [line] = [line for line in status.splitlines() if line.startswith("VmRSS:")]
    return int(line.split()[1]) / 1024
