"""How fast `ingest serve` takes webhooks, relative to a bare Starlette endpoint on one machine.

An absolute rate says as much about the machine as about the service, so this benchmark measures
two servers in the same run with the same load generator and reports their ratio:

* `bare`: `bench/bare_app.py`, Starlette under one uvicorn worker with the service's uvicorn
  settings; its endpoint reads the body and parses it as JSON. This is the ceiling for the HTTP
  stack on this machine.
* `ingest`: `python -m ingest serve`, one worker, SQLite + file sink by default (`--database-url`
  for PostgreSQL, `--kafka` for Kafka). Each request is a freshly sampled and signed Stripe
  `payment_intent.succeeded` event: verified, normalized, committed to the inbox and outbox in one
  transaction, then published by the in-process relay.

Phases alternate (bare, ingest, bare, ingest, ...) so that drift on a shared machine hits both
sides alike; every phase is a warm-up followed by a fixed number of timed requests at a fixed
concurrency. After each ingest phase the benchmark waits until the sink holds every accepted event
and reports that wait (the relay's drain time). At the end it checks that the sink holds exactly
the accepted events, once each. The exit status is non-zero if any request or check failed.

The load generator is a minimal HTTP/1.1 client by default, because httpx saturates long before
the bare server does (see RawConnection and bench/README.md).

Run: `make bench`, or `.venv/bin/python bench/ingest_rate.py --help`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import math
import multiprocessing
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any, Literal, Protocol

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from sqlalchemy.engine import make_url

from handlers.base import SigningContext
from handlers.stripe import StripeHandler
from ingest.sources import SourceConfig

BENCH_DIR = Path(__file__).resolve().parent
BARE_APP = BENCH_DIR / "bare_app.py"

SECRET = "whsec_bench_secret"  # noqa: S105 - a throwaway signing key for local servers
EVENT_TYPE = "payment_intent.succeeded"
SOURCE = "stripe"
WEBHOOK_PATH = f"/webhooks/{SOURCE}"
KAFKA_PARTITIONS = 3  # the local broker's num.partitions (scripts/kafka.sh)

INGEST_SERVE = [sys.executable, "-m", "ingest", "serve", "--host", "127.0.0.1"]

STARTUP_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 20.0
REQUEST_TIMEOUT_SECONDS = 30.0
SINK_POLL_SECONDS = 0.002
MAX_FAILURES_SHOWN = 5

# Server environment the benchmark owns: inherited values would silently change what is measured
# (a KAFKA_BOOTSTRAP_SERVERS exported in the shell would swap the sink, for instance).
OWNED_ENV_PREFIXES = ("INGEST_", "DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")

Kind = Literal["bare", "ingest"]


# -- requests ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedRequest:
    """One distinct Stripe event, signed; `event_id` is what the sink must eventually contain."""

    body: bytes
    headers: dict[str, str]
    event_id: str
    wire: bytes
    """The whole HTTP/1.1 request, for the raw client."""


def http_request(headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"POST {WEBHOOK_PATH} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def signed_requests(count: int) -> list[SignedRequest]:
    """Fresh events signed now: Stripe signatures expire after 300 s, so build them per phase.

    Signing happens before the clock starts so that the load generator spends its CPU on HTTP only.
    Both servers get the same kind of requests (size, headers), so only the endpoint differs.
    """
    handler = StripeHandler()
    now = time.time()
    source = SourceConfig(name=SOURCE, vendor="stripe", secrets=(SECRET,))
    context = SigningContext(
        source=source, url=f"http://127.0.0.1/webhooks/{SOURCE}", secret=SECRET
    )
    requests = []
    for _ in range(count):
        body = handler.sample(EVENT_TYPE)
        event_id = json.loads(body)["id"]
        headers = handler.sign(body, context, now).headers
        requests.append(SignedRequest(body, headers, event_id, http_request(headers, body)))
    return requests


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
    ids: list[int] = field(default_factory=list)
    """Inbox ids the service answered with (warm-up included): all distinct if all is well."""
    accepted: list[str] = field(default_factory=list)
    """Stripe event ids of the requests answered with success (warm-up included)."""
    failures: list[str] = field(default_factory=list)
    failure_count: int = 0
    warmup_failure_count: int = 0
    client_cpu_seconds: float = 0.0


def check_response(status: int, body: bytes, kind: Kind) -> tuple[str | None, int | None]:
    """(why the response is not a success or None, the inbox id): `ingest` must say `accepted`."""
    if status != 200:
        return f"HTTP {status}: {body[:200]!r}", None
    if kind == "bare":
        return None, None
    try:
        document = json.loads(body)
    except ValueError:
        return f"not JSON: {body[:200]!r}", None
    if document.get("status") != "accepted" or not isinstance(document.get("id"), int):
        return f"not accepted: {body[:200]!r}", None
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

    async def send(self, request: SignedRequest) -> tuple[int, bytes]:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_SECONDS):
                return await self._exchange(request.wire)
        except BaseException:
            await self.close()  # a half-read response would poison the next one
            raise

    async def _exchange(self, wire: bytes) -> tuple[int, bytes]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._reader, self._writer
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
                        problem, inbox_id = check_response(status, body, kind)
                        if problem is None:
                            result.accepted.append(request.event_id)
                            if timed:
                                result.latencies.append(elapsed)
                            if inbox_id is not None:
                                result.ids.append(inbox_id)
                    if problem is not None:
                        if timed:
                            result.failure_count += 1
                        else:
                            result.warmup_failure_count += 1
                        if len(result.failures) < MAX_FAILURES_SHOWN:
                            result.failures.append(problem)

            await asyncio.gather(*(worker(send) for send in senders))

        await run(warmup, timed=False)
        await gate()
        cpu_before = time.process_time()
        result.started = time.perf_counter()
        await run(measured, timed=True)
        result.finished = time.perf_counter()
        result.client_cpu_seconds = time.process_time() - cpu_before
    return result


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


# -- CPU accounting ------------------------------------------------------------------------------


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its threads (aiosqlite runs a thread per
    connection), from /proc; NaN where /proc is unavailable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return math.nan
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass(frozen=True)
class MachineTimes:
    total: int
    idle: int
    steal: int

    @classmethod
    def now(cls) -> MachineTimes:
        """The aggregate line of /proc/stat; on a shared VM, steal is what a neighbour took."""
        try:
            line = Path("/proc/stat").read_text().splitlines()[0]
        except OSError:
            return cls(0, 0, 0)
        values = [int(v) for v in line.split()[1:9]]  # user … steal; guest is inside user
        return cls(total=sum(values), idle=values[3] + values[4], steal=values[7])


@dataclass(frozen=True)
class CpuWindow:
    """CPU used over one timed phase, in cores (1.0 = one core busy for the whole phase)."""

    server: float
    client: float
    machine_busy: float
    steal: float
    """Fraction of the machine's CPU time stolen by the hypervisor."""


class CpuMeter:
    """Started at the gate, stopped at the last response: CPU of the server process (all threads)
    and of the whole machine, so a phase shows whether the server, the client or a neighbour was
    the limit."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self._server = process_cpu_seconds(server_pid)
        self._machine = MachineTimes.now()

    def stop(self, wall_seconds: float, client_cpu_seconds: float) -> CpuWindow:
        server = process_cpu_seconds(self.server_pid) - self._server
        machine = MachineTimes.now()
        total = machine.total - self._machine.total
        cores = os.cpu_count() or 1
        if total <= 0:
            busy = steal = math.nan
        else:
            busy = cores * (1 - (machine.idle - self._machine.idle) / total)
            steal = (machine.steal - self._machine.steal) / total
        return CpuWindow(
            server=server / wall_seconds,
            client=client_cpu_seconds / wall_seconds,
            machine_busy=busy,
            steal=steal,
        )


# -- servers -------------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class BenchmarkError(Exception):
    """A set-up or verification problem: reported as one message, exit status 1."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_server(
    name: str, command: list[str], env: dict[str, str], workdir: Path, port: int
) -> Iterator[Server]:
    """A server process; on the way out SIGTERM (uvicorn's graceful stop), then SIGKILL."""
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command, env=env, cwd=workdir, stdout=log_file, stderr=subprocess.STDOUT
        )
    server = Server(name, f"http://127.0.0.1:{port}", process, log_path)
    try:
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    async with httpx.AsyncClient(base_url=server.url, timeout=1.0, trust_env=False) as client:
        while True:
            if server.process.poll() is not None:
                raise BenchmarkError(
                    f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/healthz")).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise BenchmarkError(f"{server.name} did not answer /healthz:\n{server.log_tail()}")
            await asyncio.sleep(0.1)


def server_environment(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(OWNED_ENV_PREFIXES)}
    env.update(
        {
            "BENCH_STRIPE_SECRET": SECRET,
            "INGEST_LOG_FORMAT": "json",
            "INGEST_LOG_LEVEL": "warning",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def sources_yaml(topic: str) -> str:
    return (
        "sources:\n"
        f"  {SOURCE}:\n"
        "    vendor: stripe\n"
        '    secrets: ["${BENCH_STRIPE_SECRET}"]\n'
        "routes:\n"
        '  - match: "payment.*"\n'
        f"    topic: {topic}\n"
    )


# -- PostgreSQL ----------------------------------------------------------------------------------


async def _admin_connection(server_url: str) -> Any:
    url = make_url(server_url)
    return await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, database="postgres"
    )


async def create_database(server_url: str, name: str) -> str:
    """A fresh database on the server `server_url` points at; returns its URL."""
    admin = await _admin_connection(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def drop_database(server_url: str, name: str) -> None:
    admin = await _admin_connection(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def migrate(env: dict[str, str], workdir: Path) -> None:
    """`ingest migrate` as a user runs it: PostgreSQL is not migrated by `serve`."""
    result = subprocess.run(
        [sys.executable, "-m", "ingest", "migrate"],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise BenchmarkError(f"ingest migrate failed ({result.returncode}):\n{result.stderr}")


# -- sinks ---------------------------------------------------------------------------------------


class SinkWatcher(Protocol):
    """Counts what the relay has published, and finally reads it all back to check it."""

    description: str

    async def count(self) -> int: ...

    async def event_ids(self, expected: int) -> list[str]: ...


class FileWatcher:
    """The JSON-lines sink: counts newlines incrementally, so polling stays cheap as it grows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"file {path.name}"
        self._offset = 0
        self._lines = 0

    async def count(self) -> int:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return 0
        # Only whole lines count; a partial last line is read again next time.
        complete = chunk.rfind(b"\n") + 1
        self._lines += chunk.count(b"\n", 0, complete)
        self._offset += complete
        return self._lines

    async def event_ids(self, expected: int) -> list[str]:
        try:
            with self.path.open("rb") as handle:
                return [json.loads(line)["vendoreventid"] for line in handle if line.strip()]
        except FileNotFoundError:
            return []


class KafkaWatcher:
    """A topic of our own, created for the run: its end offsets count what the relay produced."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.description = f"Kafka topic {topic}"
        self.partitions = [TopicPartition(topic, p) for p in range(KAFKA_PARTITIONS)]
        self._consumer: AIOKafkaConsumer | None = None

    async def create_topic(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            await admin.create_topics(
                [NewTopic(self.topic, num_partitions=KAFKA_PARTITIONS, replication_factor=1)]
            )
        finally:
            await admin.close()

    async def delete_topic(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([self.topic])
        finally:
            await admin.close()

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False
        )
        await self._consumer.start()

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def count(self) -> int:
        assert self._consumer is not None  # noqa: S101 - started by prepare_backends()
        offsets = await self._consumer.end_offsets(self.partitions)
        return sum(offsets.values())

    async def event_ids(self, expected: int) -> list[str]:
        """Read the topic from the start; a little past `expected`, to see duplicates too."""
        assert self._consumer is not None  # noqa: S101 - started by prepare_backends()
        consumer = self._consumer
        consumer.assign(self.partitions)
        await consumer.seek_to_beginning(*self.partitions)
        ids: list[str] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        settle: float | None = None
        while loop.time() < deadline and (settle is None or loop.time() < settle):
            batch = await consumer.getmany(timeout_ms=250)
            for records in batch.values():
                ids.extend(json.loads(record.value)["vendoreventid"] for record in records)
            if settle is None and len(ids) >= expected:
                settle = loop.time() + 1.0
        return ids


async def wait_for_sink(watcher: SinkWatcher, expected: int, limit: float) -> float | None:
    """perf_counter() when the sink first holds `expected` records; None after `limit` s."""
    deadline = time.perf_counter() + limit
    while True:
        if await watcher.count() >= expected:
            return time.perf_counter()
        if time.perf_counter() > deadline:
            return None
        await asyncio.sleep(SINK_POLL_SECONDS)


# -- phases --------------------------------------------------------------------------------------


@dataclass
class Phase:
    """One timed run against one server, with what it cost and (ingest) how long the relay took."""

    kind: Kind
    round: int
    requests: int
    seconds: float
    latencies: list[float]
    failure_count: int
    warmup_failure_count: int
    failures: list[str]
    cpu: CpuWindow
    ids: list[int]
    accepted: list[str]
    last_ack: float
    """time.perf_counter() of the last timed response."""
    drain_seconds: float | None = None
    """From the last ack until the sink held every accepted event (ingest only)."""

    @property
    def rate(self) -> float:
        """Successful requests per second: failures are fast and would flatter the rate."""
        return len(self.latencies) / self.seconds if self.seconds > 0 else math.nan

    def percentile_ms(self, p: float) -> float:
        return percentile(self.latencies, p) * 1000


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile: an observed latency, never an interpolation between two."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


async def run_phase(
    options: Options,
    server: Server,
    kind: Kind,
    round_number: int,
    warmup: list[SignedRequest],
    measured: list[SignedRequest],
) -> Phase:
    """One warm-up + timed run against one server, in-process or across client processes."""
    if options.client_processes == 1:
        meter: CpuMeter | None = None

        async def gate() -> None:
            nonlocal meter
            meter = CpuMeter(server.process.pid)

        result = await generate_load(
            server.url, kind, options.client, warmup, measured, options.concurrency, gate
        )
        results = [result]
        assert meter is not None  # noqa: S101 - set by the gate
    else:
        results, meter = await run_client_processes(options, server, kind, warmup, measured)
    started = min(r.started for r in results)
    finished = max(r.finished for r in results)
    seconds = finished - started
    cpu = meter.stop(seconds, sum(r.client_cpu_seconds for r in results))
    return Phase(
        kind=kind,
        round=round_number,
        requests=len(measured),
        seconds=seconds,
        latencies=[latency for r in results for latency in r.latencies],
        failure_count=sum(r.failure_count for r in results),
        warmup_failure_count=sum(r.warmup_failure_count for r in results),
        failures=[failure for r in results for failure in r.failures][:MAX_FAILURES_SHOWN],
        cpu=cpu,
        ids=[i for r in results for i in r.ids],
        accepted=[event_id for r in results for event_id in r.accepted],
        last_ack=finished,
    )


async def run_client_processes(
    options: Options,
    server: Server,
    kind: Kind,
    warmup: list[SignedRequest],
    measured: list[SignedRequest],
) -> tuple[list[LoadResult], CpuMeter]:
    """Spawned (not forked: we have a running event loop) load generators, started together."""
    count = options.client_processes
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(count + 1)
    queue: Queue[LoadResult] = context.Queue()
    concurrencies = [len(part) for part in split(range(options.concurrency), count)]
    processes = [
        context.Process(
            target=client_process,
            args=(server.url, kind, options.client, w, m, c, barrier, queue),
            daemon=True,
        )
        for w, m, c in zip(split(warmup, count), split(measured, count), concurrencies, strict=True)
    ]
    for process in processes:
        process.start()
    try:
        await asyncio.to_thread(barrier.wait, STARTUP_TIMEOUT_SECONDS)
        meter = CpuMeter(server.process.pid)
        results = [
            await asyncio.to_thread(queue.get, True, STARTUP_TIMEOUT_SECONDS + 600)
            for _ in processes
        ]
    finally:
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
    return results, meter


# -- the run -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    requests: int
    bare_requests: int
    warmup: int
    concurrency: int
    rounds: int
    database_url: str | None
    kafka: str | None
    client: str
    client_processes: int
    server_env: dict[str, str]
    drain_timeout: float
    keep: bool
    json_path: Path | None


@dataclass
class Report:
    configuration: dict[str, Any]
    phases: list[Phase] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    sink_records: int | None = None
    server_log_lines: int | None = None

    @property
    def failed_requests(self) -> int:
        return sum(p.failure_count + p.warmup_failure_count for p in self.phases)

    @property
    def failed(self) -> bool:
        return bool(self.problems) or self.failed_requests > 0


async def prepare_backends(
    options: Options, stack: contextlib.AsyncExitStack, workdir: Path, run_id: str
) -> tuple[dict[str, str], SinkWatcher]:
    """The ingest server's environment and a watcher on its sink: nothing shared with other runs.

    SQLite and the file sink live in the run's directory; on PostgreSQL the run gets a database of
    its own and on Kafka a topic of its own, dropped at the end unless --keep.
    """
    topic = f"bench.payments.{run_id}" if options.kafka else "payments"
    (workdir / "sources.yaml").write_text(sources_yaml(topic))
    env = {
        "INGEST_SOURCES_FILE": str(workdir / "sources.yaml"),
        "INGEST_SINK_FILE": str(workdir / "events.jsonl"),
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'ingest.db'}",
        **options.server_env,
    }
    if options.database_url:
        name = f"bench_{run_id}"
        env["DATABASE_URL"] = await create_database(options.database_url, name)
        if not options.keep:
            stack.push_async_callback(drop_database, options.database_url, name)
        await asyncio.to_thread(migrate, server_environment(env), workdir)
    if not options.kafka:
        return env, FileWatcher(workdir / "events.jsonl")
    env["KAFKA_BOOTSTRAP_SERVERS"] = options.kafka
    kafka = KafkaWatcher(options.kafka, topic)
    await kafka.create_topic()
    if not options.keep:
        stack.push_async_callback(kafka.delete_topic)
    await kafka.start()
    stack.push_async_callback(kafka.stop)
    return env, kafka


def phase_requests(options: Options, kind: Kind) -> tuple[list[SignedRequest], list[SignedRequest]]:
    """(warm-up, timed) requests. The bare phase re-sends the same events: it stores nothing,
    and at ~40x the service's rate it needs more requests to last long enough to be measured."""
    requests = signed_requests(options.warmup + options.requests)
    warmup, timed = requests[: options.warmup], requests[options.warmup :]
    if kind == "bare":
        timed = [timed[i % len(timed)] for i in range(options.bare_requests)]
    return warmup, timed


async def run_rounds(
    options: Options, report: Report, bare: Server, ingest: Server, watcher: SinkWatcher
) -> list[str]:
    """Alternate bare and ingest phases; after each ingest phase, time the relay's drain.

    Returns the Stripe ids of every event the service accepted, in the order they were sent.
    """
    accepted: list[str] = []
    for round_number in range(1, options.rounds + 1):
        phases: tuple[tuple[Kind, Server], ...] = (("bare", bare), ("ingest", ingest))
        for kind, server in phases:
            warmup, timed = phase_requests(options, kind)
            phase = await run_phase(options, server, kind, round_number, warmup, timed)
            report.phases.append(phase)
            if kind == "ingest":
                accepted.extend(phase.accepted)
                done = await wait_for_sink(watcher, len(accepted), options.drain_timeout)
                if done is None:
                    report.problems.append(
                        f"round {round_number}: the sink did not reach {len(accepted)} records "
                        f"within {options.drain_timeout:.0f} s"
                    )
                else:
                    phase.drain_seconds = max(0.0, done - phase.last_ack)
            print_phase(phase, options.client_processes)
            for each in (bare, ingest):
                if each.process.poll() is not None:
                    raise BenchmarkError(f"{each.name} exited during the run:\n{each.log_tail()}")
    return accepted


async def benchmark(options: Options, report: Report) -> None:
    """Set up, measure, verify; everything started here is stopped or dropped on the way out."""
    # SIGTERM unwinds like Ctrl-C: the servers stop, the database and topic are dropped.
    task = asyncio.current_task()
    if task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    run_id = secrets.token_hex(4)
    workdir = Path(tempfile.mkdtemp(prefix=f"ingest-bench-{run_id}-"))
    report.configuration["workdir"] = str(workdir)
    async with contextlib.AsyncExitStack() as stack:
        ingest_env, watcher = await prepare_backends(options, stack, workdir, run_id)
        database = make_url(ingest_env["DATABASE_URL"]).render_as_string(hide_password=True)
        report.configuration.update(
            database=database, sink=watcher.description, server_env=options.server_env
        )
        print(f"ingest: {database}, sink: {watcher.description}; directory {workdir}", flush=True)
        # Entered after prepare_backends, so the servers stop before the database is dropped.
        bare_port, ingest_port = free_port(), free_port()
        bare = stack.enter_context(
            running_server(
                "bare",
                [sys.executable, str(BARE_APP), "--port", str(bare_port)],
                server_environment({}),
                workdir,
                bare_port,
            )
        )
        ingest = stack.enter_context(
            running_server(
                "ingest",
                [*INGEST_SERVE, "--port", str(ingest_port)],
                server_environment(ingest_env),
                workdir,
                ingest_port,
            )
        )
        await asyncio.gather(wait_healthy(bare), wait_healthy(ingest))
        accepted = await run_rounds(options, report, bare, ingest, watcher)
        published = await watcher.event_ids(len(accepted))
        report.sink_records = len(published)
        report.problems.extend(verify_ingest(report.phases, accepted, published))
        report.server_log_lines = count_lines(ingest.log_path)
    if not report.failed and not options.keep:
        shutil.rmtree(workdir, ignore_errors=True)


def verify_ingest(
    phases: Sequence[Phase], accepted: Sequence[str], published: Sequence[str]
) -> list[str]:
    """Every accepted event in the sink exactly once, nothing else; every inbox id distinct."""
    problems = []
    inbox_ids = [i for p in phases if p.kind == "ingest" for i in p.ids]
    if len(set(inbox_ids)) != len(inbox_ids):
        problems.append(f"{len(inbox_ids) - len(set(inbox_ids))} accepted requests shared an id")
    expected, seen = set(accepted), set(published)
    if missing := expected - seen:
        problems.append(f"{len(missing)} accepted events are not in the sink")
    if extra := seen - expected:
        problems.append(f"{len(extra)} events in the sink were not accepted")
    if duplicates := len(published) - len(seen):
        problems.append(f"{duplicates} events are in the sink more than once")
    return problems


def count_lines(path: Path) -> int:
    try:
        with path.open("rb") as handle:
            return sum(1 for _ in handle)
    except OSError:
        return 0


# -- output --------------------------------------------------------------------------------------

PERCENTILES = (50, 90, 99, 100)


def bottlenecks(phase: Phase, client_processes: int) -> list[str]:
    """What limited a phase besides the server: the rate means little if the client was full."""
    notes = []
    saturated = phase.cpu.machine_busy >= 0.95 * (os.cpu_count() or 1)
    # Client processes at full speed, or every core busy while the server has idle time.
    if phase.cpu.client >= 0.9 * client_processes or (saturated and phase.cpu.server < 0.9):
        notes.append("client-bound")
    if saturated:
        notes.append("machine saturated")
    if phase.cpu.steal >= 0.05:
        notes.append(f"{phase.cpu.steal:.0%} stolen")
    return notes


def print_phase(phase: Phase, client_processes: int) -> None:
    drain = "" if phase.drain_seconds is None else f"  drain {phase.drain_seconds * 1000:4.0f} ms"
    failures = phase.failure_count + phase.warmup_failure_count
    notes = [*bottlenecks(phase, client_processes), *([f"{failures} FAILED"] if failures else [])]
    print(
        f"  round {phase.round} {phase.kind:<6} {phase.requests:6d} req {phase.rate:8.0f} req/s"
        f"  p50 {phase.percentile_ms(50):6.1f}  p99 {phase.percentile_ms(99):6.1f} ms"
        f"  cpu server {phase.cpu.server:.2f} client {phase.cpu.client:.2f}"
        f" machine {phase.cpu.machine_busy:.2f}/{os.cpu_count()}{drain}"
        f"{'  (' + ', '.join(notes) + ')' if notes else ''}",
        flush=True,
    )
    for failure in phase.failures:
        print(f"      failure: {failure}", flush=True)


def summarize(report: Report) -> dict[str, Any]:
    """Medians over rounds (robust to one disturbed round); latency over all rounds' requests."""
    ratios = []
    for number in sorted({p.round for p in report.phases}):
        pair = {p.kind: p for p in report.phases if p.round == number}
        if "bare" in pair and "ingest" in pair:
            ratios.append(pair["ingest"].rate / pair["bare"].rate)
    summary: dict[str, Any] = {
        "ratio_per_round": ratios,
        "ratio_median": statistics.median(ratios) if ratios else math.nan,
    }
    for kind in ("bare", "ingest"):
        phases = [p for p in report.phases if p.kind == kind]
        if not phases:
            continue
        latencies = [latency for p in phases for latency in p.latencies]
        summary[kind] = {
            "rate_per_round": [p.rate for p in phases],
            "rate_median": statistics.median(p.rate for p in phases),
            **{f"p{p}_ms": percentile(latencies, p) * 1000 for p in PERCENTILES},
            "server_cpu_median": statistics.median(p.cpu.server for p in phases),
            "client_cpu_median": statistics.median(p.cpu.client for p in phases),
            "server_cpu_ms_per_request": statistics.median(
                p.cpu.server * p.seconds / p.requests * 1000 for p in phases
            ),
            "drain_ms": [p.drain_seconds * 1000 for p in phases if p.drain_seconds is not None],
        }
    return summary


def print_summary(report: Report, summary: dict[str, Any], options: Options) -> None:
    if "bare" not in summary or "ingest" not in summary:
        return
    header = (
        f"{'':7}{'req/s':>8}  {'per round':<30}{'p50':>7}{'p90':>7}{'p99':>7}{'max':>8} ms"
        f"{'server cpu':>12}{'ms cpu/req':>12}"
    )
    print(f"\n{header}\n{'-' * len(header)}")
    for kind in ("bare", "ingest"):
        row = summary[kind]
        per_round = " ".join(f"{rate:.0f}" for rate in row["rate_per_round"])
        print(
            f"{kind:<7}{row['rate_median']:>8.0f}  {per_round:<30}"
            + "".join(f"{row[f'p{p}_ms']:>7.1f}" for p in PERCENTILES[:-1])
            + f"{row['p100_ms']:>8.1f}   "
            + f"{row['server_cpu_median']:>12.2f}{row['server_cpu_ms_per_request']:>12.3f}"
        )
    ratios = " ".join(f"{ratio:.3f}" for ratio in summary["ratio_per_round"])
    print(f"\ningest/bare rate ratio: median {summary['ratio_median']:.3f} (per round: {ratios})")
    drains = " ".join(f"{ms:.0f}" for ms in summary["ingest"]["drain_ms"])
    print(
        f"relay drain after the last ack, ms: {drains}"
        f" (sink polled every {SINK_POLL_SECONDS * 1000:.0f} ms)"
    )
    accepted = sum(len(p.accepted) for p in report.phases if p.kind == "ingest")
    level = options.server_env.get("INGEST_LOG_LEVEL", "warning")
    print(f"sink: {report.sink_records} records for {accepted} accepted events")
    print(f"ingest server log: {report.server_log_lines} lines (INGEST_LOG_LEVEL={level})")
    if any(
        "client-bound" in bottlenecks(p, options.client_processes)
        for p in report.phases
        if p.kind == "bare"
    ):
        print(
            "WARNING: the load generator was saturated in a bare phase, so the ceiling is the "
            "client's and the ratio is overstated; see bench/README.md"
        )


def print_verdict(report: Report) -> None:
    if report.failed:
        print(f"FAILED: {report.failed_requests} failed requests", file=sys.stderr)
        for problem in report.problems:
            print(f"FAILED: {problem}", file=sys.stderr)
        print(f"logs kept in {report.configuration.get('workdir')}", file=sys.stderr)
    else:
        print("OK: every request accepted, every accepted event in the sink exactly once")


def describe_machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = {}
    for package in ("uvicorn", "starlette", "uvloop", "httptools", "sqlalchemy", "httpx"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else [],
        "python": platform.python_version(),
        "versions": versions,
    }


def write_json(path: Path, report: Report, summary: dict[str, Any]) -> None:
    bulky = {"latencies", "ids", "accepted"}
    phases = [
        {
            **{k: v for k, v in dataclasses.asdict(p).items() if k not in bulky},
            "rate": p.rate,
            **{f"p{q}_ms": p.percentile_ms(q) for q in PERCENTILES},
        }
        for p in report.phases
    ]
    document = {
        "configuration": report.configuration,
        "summary": summary,
        "phases": phases,
        "problems": report.problems,
        "failed_requests": report.failed_requests,
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")


# -- command line --------------------------------------------------------------------------------


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def assignment(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError("expected NAME=VALUE")
    return name, value


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        description="Request rate and latency of `ingest serve` relative to a bare Starlette "
        "endpoint, measured in the same run (see bench/README.md).",
    )
    parser.add_argument("--requests", type=positive, default=2000, help="timed per ingest phase")
    parser.add_argument(
        "--bare-requests", type=positive, default=20000, help="timed per bare phase"
    )
    parser.add_argument("--warmup", type=int, default=200, help="untimed, before each phase")
    parser.add_argument("--concurrency", type=positive, default=16, help="requests in flight")
    parser.add_argument("--rounds", type=positive, default=5, help="(bare, ingest) pairs")
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="PostgreSQL server (postgresql://user:pass@host:port/db) on which to create a fresh "
        "database for the run; default: SQLite in the run's temporary directory",
    )
    parser.add_argument(
        "--kafka",
        metavar="HOST:PORT",
        help="Kafka bootstrap servers; the run gets its own topic. Default: the file sink",
    )
    parser.add_argument(
        "--client",
        choices=sorted(SENDERS),
        default="raw",
        help="load generator: raw HTTP/1.1 on asyncio streams (default) or httpx.AsyncClient",
    )
    parser.add_argument(
        "--client-processes",
        type=positive,
        default=1,
        help="load-generator processes sharing --concurrency (default 1: this process)",
    )
    parser.add_argument(
        "--server-env",
        type=assignment,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for `ingest serve`, e.g. INGEST_DB_POOL_SIZE=1 (repeatable)",
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=60.0, help="seconds to wait for the relay"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary directory, database and topic"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    args = parser.parse_args(argv)
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    if args.client_processes > args.concurrency:
        parser.error("--client-processes must not exceed --concurrency")
    return Options(
        requests=args.requests,
        bare_requests=args.bare_requests,
        warmup=args.warmup,
        concurrency=args.concurrency,
        rounds=args.rounds,
        database_url=args.database_url,
        kafka=args.kafka,
        client=args.client,
        client_processes=args.client_processes,
        server_env=dict(args.server_env),
        drain_timeout=args.drain_timeout,
        keep=args.keep,
        json_path=args.json,
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    machine = describe_machine()
    report = Report(
        {
            **machine,
            **{k: v for k, v in dataclasses.asdict(options).items() if k != "json_path"},
        }
    )
    print(
        f"{machine['cpus']} CPUs ({machine['cpu_model']}), load average "
        + " ".join(f"{x:.2f}" for x in machine["load_average_at_start"])
        + f"; Python {machine['python']}; "
        + ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    )
    print(
        f"{options.rounds} rounds of bare ({options.bare_requests} requests) then ingest "
        f"({options.requests}), each after {options.warmup} warm-up requests; "
        f"concurrency {options.concurrency}; {options.client} client in "
        f"{options.client_processes} process(es)",
        flush=True,
    )
    started = time.monotonic()
    try:
        run_event_loop(benchmark(options, report))
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (OSError, KafkaError) as exc:  # PostgreSQL or Kafka unreachable, most likely
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        print(f"interrupted; files in {report.configuration.get('workdir')}", file=sys.stderr)
        return 130
    summary = summarize(report)
    print_summary(report, summary, options)
    print(f"total time {time.monotonic() - started:.0f} s")
    print_verdict(report)
    if options.json_path:
        write_json(options.json_path, report, summary)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
