"""How fast `ingest serve` takes webhooks, relative to a bare Starlette endpoint on the same machine.

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
the events that were sent, once each. The exit status is non-zero if any request or check failed.

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
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
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
from sqlalchemy.engine import make_url

from handlers.stripe import StripeHandler

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
BARE_APP = BENCH_DIR / "bare_app.py"

SECRET = "whsec_bench_secret"
EVENT_TYPE = "payment_intent.succeeded"
SOURCE = "stripe"
WEBHOOK_PATH = f"/webhooks/{SOURCE}"
KAFKA_PARTITIONS = 3  # the local broker's num.partitions (scripts/kafka.sh)

STARTUP_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 20.0
REQUEST_TIMEOUT_SECONDS = 30.0
SINK_POLL_SECONDS = 0.01
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


def signed_requests(count: int) -> list[SignedRequest]:
    """Fresh events signed now: Stripe signatures expire after 300 s, so build them per phase.

    Signing happens before the clock starts so that the load generator spends its CPU on HTTP only.
    Both servers get the same kind of requests (size, headers), so only the endpoint differs.
    """
    handler = StripeHandler()
    now = time.time()
    requests = []
    for _ in range(count):
        body = handler.sample(EVENT_TYPE)
        event_id = json.loads(body)["id"]
        requests.append(SignedRequest(body, handler.sign(body, SECRET, now), event_id))
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


def _failure(response: httpx.Response, kind: Kind) -> str | None:
    """Why a response is not a success, or None: `ingest` must say `accepted` with an id."""
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    if kind == "bare":
        return None
    try:
        document = response.json()
    except ValueError:
        return f"not JSON: {response.text[:200]}"
    if document.get("status") != "accepted" or not isinstance(document.get("id"), int):
        return f"not accepted: {response.text[:200]}"
    return None


async def generate_load(
    url: str,
    kind: Kind,
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
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=url,
        limits=limits,
        timeout=REQUEST_TIMEOUT_SECONDS,
        trust_env=False,  # never through a proxy from the environment: 127.0.0.1 directly
    ) as client:

        async def run(requests: Sequence[SignedRequest], timed: bool) -> None:
            position = 0

            async def worker() -> None:
                nonlocal position
                while position < len(requests):
                    request = requests[position]
                    position += 1
                    began = time.perf_counter()
                    try:
                        response = await client.post(
                            WEBHOOK_PATH, content=request.body, headers=request.headers
                        )
                    except httpx.HTTPError as exc:
                        problem: str | None = f"{type(exc).__name__}: {exc}"
                    else:
                        elapsed = time.perf_counter() - began
                        problem = _failure(response, kind)
                        if timed and problem is None:
                            result.latencies.append(elapsed)
                        if problem is None:
                            result.accepted.append(request.event_id)
                            if kind == "ingest":
                                result.ids.append(response.json()["id"])
                    if problem is not None:
                        if not timed:
                            result.warmup_failure_count += 1
                        else:
                            result.failure_count += 1
                        if len(result.failures) < MAX_FAILURES_SHOWN:
                            result.failures.append(problem)

            await asyncio.gather(*(worker() for _ in range(concurrency)))

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
        run_event_loop(generate_load(url, kind, warmup, measured, concurrency, gate)),
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
        """The aggregate line of /proc/stat: on a shared VM, steal says how much a neighbour took."""
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
    import socket  # noqa: PLC0415

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
        with self.path.open("rb") as handle:
            return [json.loads(line)["vendoreventid"] for line in handle if line.strip()]


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
        assert self._consumer is not None  # noqa: S101 - started in run()
        offsets = await self._consumer.end_offsets(self.partitions)
        return sum(offsets.values())

    async def event_ids(self, expected: int) -> list[str]:
        """Read the topic from the start; a little past `expected`, to see duplicates too."""
        assert self._consumer is not None  # noqa: S101 - started in run()
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


async def wait_for_sink(watcher: SinkWatcher, expected: int, timeout: float) -> float | None:
    """perf_counter() when the sink first holds `expected` records; None on timeout."""
    deadline = time.perf_counter() + timeout
    while True:
        if await watcher.count() >= expected:
            return time.perf_counter()
        if time.perf_counter() > deadline:
            return None
        await asyncio.sleep(SINK_POLL_SECONDS)


# -- phases --------------------------------------------------------------------------------------


@dataclass
class Phase:
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
        return self.requests / self.seconds

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
            server.url, kind, warmup, measured, options.concurrency, gate
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
            args=(server.url, kind, w, m, c, barrier, queue),
            daemon=True,
        )
        for w, m, c in zip(
            split(warmup, count), split(measured, count), concurrencies, strict=True
        )
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
    warmup: int
    concurrency: int
    rounds: int
    database_url: str | None
    kafka: str | None
    client_processes: int
    drain_timeout: float
    keep: bool
    json_path: Path | None


@dataclass
class Report:
    configuration: dict[str, Any]
    phases: list[Phase] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    sink_records: int | None = None


async def benchmark(options: Options, report: Report) -> None:
    run_id = secrets.token_hex(4)
    workdir = Path(tempfile.mkdtemp(prefix=f"ingest-bench-{run_id}-"))
    report.configuration["workdir"] = str(workdir)
    topic = f"bench.payments.{run_id}" if options.kafka else "payments"
    (workdir / "sources.yaml").write_text(sources_yaml(topic))
    ingest_env: dict[str, str] = {
        "INGEST_SOURCES_FILE": str(workdir / "sources.yaml"),
        "INGEST_SINK_FILE": str(workdir / "events.jsonl"),
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'ingest.db'}",
    }
    succeeded = False
    async with contextlib.AsyncExitStack() as stack:
        if options.database_url:
            name = f"bench_{run_id}"
            ingest_env["DATABASE_URL"] = await create_database(options.database_url, name)
            if not options.keep:
                stack.push_async_callback(drop_database, options.database_url, name)
            migrate(server_environment(ingest_env), workdir)
        watcher: SinkWatcher
        if options.kafka:
            ingest_env["KAFKA_BOOTSTRAP_SERVERS"] = options.kafka
            kafka = KafkaWatcher(options.kafka, topic)
            await kafka.create_topic()
            if not options.keep:
                stack.push_async_callback(kafka.delete_topic)
            await kafka.start()
            stack.push_async_callback(kafka.stop)
            watcher = kafka
        else:
            watcher = FileWatcher(workdir / "events.jsonl")
        report.configuration["database"] = make_url(ingest_env["DATABASE_URL"]).render_as_string(
            hide_password=True
        )
        report.configuration["sink"] = watcher.description

        # Servers are stopped before the database is dropped: the exit stack unwinds backwards.
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
                [sys.executable, "-m", "ingest", "serve", "--host", "127.0.0.1"]
                + ["--port", str(ingest_port)],
                server_environment(ingest_env),
                workdir,
                ingest_port,
            )
        )
        await asyncio.gather(wait_healthy(bare), wait_healthy(ingest))

        accepted: list[str] = []
        for round_number in range(1, options.rounds + 1):
            for server in (bare, ingest):
                kind: Kind = "bare" if server is bare else "ingest"
                warmup = signed_requests(options.warmup)
                measured = signed_requests(options.requests)
                phase = await run_phase(options, server, kind, round_number, warmup, measured)
                report.phases.append(phase)
                if kind == "ingest":
                    accepted.extend(phase.accepted)
                    done = await wait_for_sink(watcher, len(accepted), options.drain_timeout)
                    if done is None:
                        report.problems.append(
                            f"round {round_number}: the sink did not reach {len(accepted)} "
                            f"records within {options.drain_timeout:.0f} s"
                        )
                    else:
                        phase.drain_seconds = max(0.0, done - phase.last_ack)
                print_phase(phase)
                for each in (bare, ingest):
                    if each.process.poll() is not None:
                        raise BenchmarkError(f"{each.name} exited during the run:\n{each.log_tail()}")
        published = await watcher.event_ids(len(accepted))
        report.sink_records = len(published)
        report.problems.extend(verify_ingest(report.phases, accepted, published))
        report.server_log_lines = count_lines(ingest.log_path)
    if not report.failed and not options.keep:
        shutil.rmtree(workdir, ignore_errors=True)
