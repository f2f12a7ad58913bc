"""How fast `ingest serve` takes webhooks, relative to a bare Starlette endpoint on one machine.

An absolute rate says as much about the machine as about the service, so this benchmark measures
two servers in the same run with the same load generator and reports their ratio:

* `bare`: `bench/bare_app.py`, Starlette under one uvicorn worker with the service's uvicorn
  settings; its endpoint reads the body and parses it as JSON. This is the ceiling for the HTTP
  stack on this machine.
* `ingest`: `python -m ingest serve`, one worker, SQLite + file sink by default (`--database-url`
  for PostgreSQL, `--kafka` for Kafka). Each request is a freshly sampled and signed Stripe
  `payment_intent.succeeded` event: verified, normalized, committed to the inbox and outbox,
  then published by the in-process relay.

Each round runs, interleaved so that drift on a shared machine hits every phase alike:

1. for each `--concurrency` (16 and 64 by default): a bare phase, then an ingest phase, each a
   warm-up followed by a fixed number of timed requests from a closed-loop load generator;
2. an ingest phase in which a share of the requests (`--redeliveries`, 10 %) are redeliveries of
   events accepted earlier in the run: same body and Stripe event id, freshly signed. They must
   all be answered `duplicate`, with the inbox id of the original;
3. an open-loop ingest phase (`--open-loop-rate` events/s for `--open-loop-seconds`): requests
   leave on a timetable whatever the responses, and for each event the benchmark records when
   its 2xx arrived and when it became readable in the sink (for Kafka: by a read_committed
   consumer), so the relay's ack-to-readable latency is measured at a known rate.

With `--big-inbox`, after the rounds the inbox is filled to `--big-inbox-rows` processed events
with SQL (`bench/inbox_fill.py`) and the bare/ingest pair at the first concurrency is run again
for as many rounds, to compare with the same pair on the nearly empty inbox of the same run.

After each ingest phase the benchmark waits until the sink holds every accepted event and reports
that wait (the relay's drain time). At the end it checks that the sink holds exactly the accepted
events, once each. The exit status is non-zero if any request or check failed; the targets of
issue 7 are printed (PASS/MISS) but never change it.

The load generator is a minimal HTTP/1.1 client by default, because httpx saturates long before
the bare server does (see RawConnection and bench/README.md). Modules: `loadgen.py` (requests and
both load generators), `reporting.py` (phases, medians, ratios, targets, tables, JSON),
`inbox_fill.py` (the SQL fill); this file starts, runs and checks everything.

Run: `make bench` (durable PostgreSQL, Kafka, the 5M-row inbox; results under bench/results/), or
`.venv/bin/python bench/ingest_rate.py --help`.
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
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from inbox_fill import fill_inbox
from loadgen import (
    EVENT_TYPE,
    MAX_FAILURES_SHOWN,
    SECRET,
    SENDERS,
    SOURCE,
    STARTUP_TIMEOUT_SECONDS,
    Kind,
    LoadResult,
    OpenLoop,
    SignedRequest,
    Signer,
    client_process,
    generate_load,
    redelivery_positions,
    run_event_loop,
    split,
)
from reporting import (
    TARGET_ACK_TO_KAFKA_RATE,
    CpuWindow,
    Labels,
    Mode,
    Options,
    Phase,
    Report,
    describe_machine,
    print_phase,
    print_summary,
    print_verdict,
    rows_label,
    summarize,
    write_results,
)
from sqlalchemy.engine import make_url

BENCH_DIR = Path(__file__).resolve().parent
BARE_APP = BENCH_DIR / "bare_app.py"

KAFKA_PARTITIONS = 3  # the local broker's num.partitions (scripts/kafka.sh)

INGEST_SERVE = [sys.executable, "-m", "ingest", "serve", "--host", "127.0.0.1"]

STOP_TIMEOUT_SECONDS = 20.0
SINK_POLL_SECONDS = 0.002
"""How often the file sink is read, and how often waits for the sink look at the count."""
KAFKA_FETCH_WAIT_MS = 100
IDLE_SAMPLE_SECONDS = 1.0
BUSY_IDLE_CORES = 0.25
"""Machine CPU in use, in cores, while this benchmark is idle, above which another job is
probably running: the output says so."""

# Server environment the benchmark owns: inherited values would silently change what is measured
# (a KAFKA_BOOTSTRAP_SERVERS exported in the shell would swap the sink, for instance).
OWNED_ENV_PREFIXES = ("INGEST_", "DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")


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


async def machine_busy_cores(seconds: float = IDLE_SAMPLE_SECONDS) -> float:
    """Cores in use on the whole machine over `seconds` while this benchmark sleeps: how much
    another job takes (the load average alone mixes in our own past phases)."""
    before = MachineTimes.now()
    await asyncio.sleep(seconds)
    after = MachineTimes.now()
    total = after.total - before.total
    if total <= 0:
        return math.nan
    return (os.cpu_count() or 1) * (1 - (after.idle - before.idle) / total)


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


async def postgres_settings(database_url: str) -> dict[str, str]:
    """The server's durability settings, read from the server: what the run really measured."""
    url = make_url(database_url)
    conn = await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    try:
        rows = await conn.fetch(
            "SELECT name, setting FROM pg_settings WHERE name = ANY($1::text[])",
            ["fsync", "synchronous_commit", "full_page_writes", "shared_buffers", "wal_level"],
        )
        settings = {row["name"]: str(row["setting"]) for row in rows}
        settings["server_version"] = str(await conn.fetchval("SHOW server_version"))
        settings["shared_buffers"] = str(await conn.fetchval("SHOW shared_buffers"))
    finally:
        await conn.close()
    return settings


# -- sinks ---------------------------------------------------------------------------------------


class SinkWatcher(Protocol):
    """Tails what the relay has published: when each event became readable, and every record.

    `arrivals` maps a Stripe event id (the CloudEvent's `vendoreventid`) to the perf_counter()
    at which it was first read; `records` lists every record's event id, duplicates included.
    """

    description: str
    arrivals: dict[str, float]
    records: list[str]

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def count(self) -> int: ...


class FileWatcher:
    """The JSON-lines sink, polled every SINK_POLL_SECONDS by a background task that reads only
    what was appended since the last poll (so polling stays cheap as the file grows)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"file {path.name}"
        self.arrivals: dict[str, float] = {}
        self.records: list[str] = []
        self._offset = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._tail())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def count(self) -> int:
        if self._task is not None and self._task.done():
            self._task.result()  # re-raise what stopped the tail
        return len(self.records)

    async def _tail(self) -> None:
        while True:
            self._read()
            await asyncio.sleep(SINK_POLL_SECONDS)

    def _read(self) -> None:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return
        # Only whole lines count; a partial last line is read again next time.
        complete = chunk.rfind(b"\n") + 1
        now = time.perf_counter()
        for line in chunk[:complete].splitlines():
            if line.strip():
                self._add(json.loads(line)["vendoreventid"], now)
        self._offset += complete

    def _add(self, event_id: str, now: float) -> None:
        self.records.append(event_id)
        self.arrivals.setdefault(event_id, now)


class KafkaWatcher:
    """A topic of our own, created for the run, read from the start by a read_committed consumer
    for the whole run.

    read_committed is what a downstream consumer of the relay's transactions uses, so the time a
    record is returned here is when it became *readable*, not merely written. Counting records
    this way (rather than from the partitions' end offsets) also keeps transaction markers,
    which take an offset each, out of the count.
    """

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.description = f"Kafka topic {topic} (read_committed)"
        self.partitions = [TopicPartition(topic, p) for p in range(KAFKA_PARTITIONS)]
        self.arrivals: dict[str, float] = {}
        self.records: list[str] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

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
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
            fetch_max_wait_ms=KAFKA_FETCH_WAIT_MS,
        )
        await self._consumer.start()
        await self._wait_for_leaders(self._consumer)
        self._consumer.assign(self.partitions)
        await self._consumer.seek_to_beginning(*self.partitions)
        self._task = asyncio.create_task(self._tail(self._consumer))

    async def _wait_for_leaders(self, consumer: AIOKafkaConsumer) -> None:
        """Until the new topic's partition leaders answer (a few hundred ms after creation):
        seeking earlier makes aiokafka log NotLeaderForPartitionError while it retries."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while True:
            try:
                await consumer.end_offsets(self.partitions)
            except KafkaError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
            else:
                return

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    def count(self) -> int:
        if self._task is not None and self._task.done():
            self._task.result()  # re-raise what stopped the tail
        return len(self.records)

    async def _tail(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=250)
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    event_id = json.loads(record.value)["vendoreventid"]
                    self.records.append(event_id)
                    self.arrivals.setdefault(event_id, now)


async def wait_for_sink(watcher: SinkWatcher, expected: int, limit: float) -> bool:
    """Whether the sink held `expected` records within `limit` seconds."""
    deadline = time.perf_counter() + limit
    while watcher.count() < expected:
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(SINK_POLL_SECONDS)
    return True


async def settled_records(watcher: SinkWatcher, expected: int) -> list[str]:
    """Every record read, once the sink holds `expected` and a second more has brought no
    surprise: a duplicate published late would show up in that second."""
    await wait_for_sink(watcher, expected, 60.0)
    await asyncio.sleep(1.0)
    return list(watcher.records)


# -- phases ---------------------------------------------------------------------------------------


async def measure(
    options: Options,
    server: Server,
    kind: Kind,
    concurrency: int,
    warmup: list[SignedRequest],
    measured: list[SignedRequest],
    open_rate: float | None = None,
) -> tuple[list[LoadResult], CpuWindow]:
    """One warm-up + timed run against one server: closed loop (in-process or across client
    processes) or, with `open_rate`, open loop in this process."""
    if options.client_processes == 1 or open_rate is not None:
        meter: CpuMeter | None = None

        async def gate() -> None:
            nonlocal meter
            meter = CpuMeter(server.process.pid)

        if open_rate is not None:
            result = await OpenLoop(server.url, open_rate).run(warmup, measured, gate)
        else:
            result = await generate_load(
                server.url, kind, options.client, warmup, measured, concurrency, gate
            )
        results = [result]
        assert meter is not None  # noqa: S101 - set by the gate
    else:
        results, meter = await run_client_processes(
            options, server, kind, concurrency, warmup, measured
        )
    seconds = max(r.finished for r in results) - min(r.started for r in results)
    return results, meter.stop(seconds, sum(r.client_cpu_seconds for r in results))


def phase_from(
    results: Sequence[LoadResult],
    cpu: CpuWindow,
    *,
    label: str,
    kind: Kind,
    mode: Mode,
    round_number: int,
    concurrency: int | None,
    target_rate: float | None,
    inbox_rows: int,
    measured: Sequence[SignedRequest],
) -> Phase:
    started = min(r.started for r in results)
    finished = max(r.finished for r in results)
    return Phase(
        label=label,
        kind=kind,
        mode=mode,
        round=round_number,
        concurrency=concurrency,
        target_rate=target_rate,
        inbox_rows=inbox_rows,
        requests=len(measured),
        seconds=finished - started,
        latencies=[latency for r in results for latency in r.latencies],
        redelivery_latencies=[latency for r in results for latency in r.redelivery_latencies],
        failure_count=sum(r.failure_count for r in results),
        warmup_failure_count=sum(r.warmup_failure_count for r in results),
        failures=[failure for r in results for failure in r.failures][:MAX_FAILURES_SHOWN],
        cpu=cpu,
        ids=[i for r in results for i in r.ids],
        accepted=[event_id for r in results for event_id in r.accepted],
        duplicates=[pair for r in results for pair in r.duplicates],
        ack_times={k: v for r in results for k, v in r.ack_times.items()},
        lateness=[late for r in results for late in r.lateness],
        last_ack=finished,
        redeliveries=sum(1 for request in measured if request.expect == "duplicate"),
    )


async def run_client_processes(
    options: Options,
    server: Server,
    kind: Kind,
    concurrency: int,
    warmup: list[SignedRequest],
    measured: list[SignedRequest],
) -> tuple[list[LoadResult], CpuMeter]:
    """Spawned (not forked: we have a running event loop) load generators, started together."""
    count = options.client_processes
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(count + 1)
    queue: Queue[LoadResult] = context.Queue()
    concurrencies = [len(part) for part in split(range(concurrency), count)]
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


# -- the run --------------------------------------------------------------------------------------


@dataclass
class Backends:
    env: dict[str, str]
    """The ingest server's environment."""
    watcher: SinkWatcher
    database_url: str | None
    """The run's own PostgreSQL database, with credentials (for the fill), or None on SQLite."""
    topic: str


async def prepare_backends(
    options: Options, stack: contextlib.AsyncExitStack, workdir: Path, run_id: str
) -> Backends:
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
    database_url = None
    if options.database_url:
        name = f"bench_{run_id}"
        database_url = env["DATABASE_URL"] = await create_database(options.database_url, name)
        if not options.keep:
            stack.push_async_callback(drop_database, options.database_url, name)
        await asyncio.to_thread(migrate, server_environment(env), workdir)
    watcher: SinkWatcher
    if options.kafka:
        env["KAFKA_BOOTSTRAP_SERVERS"] = options.kafka
        kafka = KafkaWatcher(options.kafka, topic)
        await kafka.create_topic()
        if not options.keep:
            stack.push_async_callback(kafka.delete_topic)
        watcher = kafka
    else:
        watcher = FileWatcher(workdir / "events.jsonl")
    await watcher.start()
    stack.push_async_callback(watcher.stop)
    return Backends(env, watcher, database_url, topic)


class Runner:
    """Runs the phases in order and keeps what later phases and the final check need: every event
    accepted so far (with its inbox id and body, for redeliveries)."""

    def __init__(
        self,
        options: Options,
        report: Report,
        bare: Server,
        ingest: Server,
        backends: Backends,
    ) -> None:
        self.options = options
        self.report = report
        self.bare = bare
        self.ingest = ingest
        self.backends = backends
        self.watcher = backends.watcher
        self.labels = Labels(options)
        self.signer = Signer()
        self.accepted: list[str] = []
        """Stripe ids of every accepted event, in order: what the sink must hold, once each."""
        self.history: dict[str, tuple[int, bytes]] = {}
        """Accepted event id -> (inbox id, body)."""
        self.fill_rows = 0

    @property
    def inbox_rows(self) -> int:
        return len(self.history) + self.fill_rows

    async def rounds(self) -> None:
        """Every round: (bare, ingest) per concurrency, then redeliveries, then the open loop."""
        options = self.options
        for number in range(1, options.rounds + 1):
            for concurrency in options.concurrencies:
                for kind in ("bare", "ingest"):
                    await self.closed(
                        self.labels.closed(kind, concurrency), kind, concurrency, number
                    )
            if options.redelivery_share > 0:
                await self.closed(
                    self.labels.redeliveries,
                    "ingest",
                    options.primary,
                    number,
                    redelivery_share=options.redelivery_share,
                )
            if options.open_loop_rate > 0:
                await self.open_loop(number)

    async def big_inbox_rounds(self) -> None:
        """Fill the inbox, then the (bare, ingest) pair at the first concurrency again."""
        options = self.options
        database_url = self.backends.database_url
        assert database_url is not None  # noqa: S101 - parse_args requires --database-url
        rows = options.big_inbox_rows
        print(
            f"filling the inbox with {rows:,} processed events"
            f"{' and their published outbox records' if options.big_inbox_outbox else ''}"
            " (INSERT … SELECT … generate_series, 100,000 rows a transaction) …",
            flush=True,
        )

        def progress(line: str) -> None:
            print(f"  fill: {line}", flush=True)

        self.report.fill = await fill_inbox(
            database_url,
            rows,
            source=SOURCE,
            event_type=EVENT_TYPE,
            secret=SECRET,
            topic=self.backends.topic,
            outbox=options.big_inbox_outbox,
            progress=progress,
        )
        self.fill_rows = rows
        fill = self.report.fill
        print(
            f"  fill: done in {fill.total_seconds:.0f} s (insert {fill.insert_seconds:.0f} s,"
            f" vacuum/analyze {fill.vacuum_seconds:.0f} s, checkpoint "
            + ("refused" if fill.checkpoint_seconds is None else f"{fill.checkpoint_seconds:.0f} s")
            + f"); inbox {fill.inbox_bytes / 2**30:.1f} GiB, outbox"
            f" {fill.outbox_bytes / 2**30:.1f} GiB",
            flush=True,
        )
        for number in range(1, options.rounds + 1):
            for kind in ("bare", "ingest"):
                label = self.labels.closed(kind, options.primary, big=True)
                await self.closed(label, kind, options.primary, number)

    def closed_requests(
        self, kind: Kind, redelivery_share: float
    ) -> tuple[list[SignedRequest], list[SignedRequest]]:
        """(warm-up, timed) requests. The bare phase re-sends the same events: it stores nothing,
        and at ~40x the service's rate it needs more requests to last long enough to be measured.
        With `redelivery_share`, that share of the timed requests are redeliveries of events
        accepted in earlier phases (each at most once per phase), spread evenly."""
        options = self.options
        requests = self.signer.fresh(options.warmup + options.requests)
        warmup, timed = requests[: options.warmup], requests[options.warmup :]
        if kind == "bare":
            timed = [timed[i % len(timed)] for i in range(options.bare_requests)]
        elif redelivery_share > 0:
            positions = redelivery_positions(len(timed), redelivery_share)
            known = list(self.history)
            if len(known) >= len(positions):
                picks = random.sample(known, len(positions))
            else:
                picks = random.choices(known, k=len(positions)) if known else []
            for position, event_id in zip(positions, picks, strict=False):
                timed[position] = self.signer.redelivery(self.history[event_id][1], event_id)
        return warmup, timed

    async def closed(
        self,
        label: str,
        kind: Kind,
        concurrency: int,
        number: int,
        *,
        redelivery_share: float = 0.0,
    ) -> Phase:
        server = self.bare if kind == "bare" else self.ingest
        warmup, timed = self.closed_requests(kind, redelivery_share)
        rows = self.inbox_rows
        results, cpu = await measure(self.options, server, kind, concurrency, warmup, timed)
        phase = phase_from(
            results,
            cpu,
            label=label,
            kind=kind,
            mode="closed",
            round_number=number,
            concurrency=concurrency,
            target_rate=None,
            inbox_rows=rows,
            measured=timed,
        )
        return await self.finish(phase, [*warmup, *timed])

    async def open_loop(self, number: int) -> Phase:
        options = self.options
        rate = options.open_loop_rate
        count = max(1, round(rate * options.open_loop_seconds))
        requests = self.signer.fresh(options.warmup + count)
        warmup, timed = requests[: options.warmup], requests[options.warmup :]
        rows = self.inbox_rows
        results, cpu = await measure(
            options, self.ingest, "ingest", 0, warmup, timed, open_rate=rate
        )
        phase = phase_from(
            results,
            cpu,
            label=self.labels.open_loop,
            kind="ingest",
            mode="open",
            round_number=number,
            concurrency=None,
            target_rate=rate,
            inbox_rows=rows,
            measured=timed,
        )
        return await self.finish(phase, requests)

    async def finish(self, phase: Phase, sent: Sequence[SignedRequest]) -> Phase:
        """Book an ingest phase's events, wait for the relay, check redeliveries; print."""
        self.report.phases.append(phase)
        if phase.kind == "ingest":
            bodies = {r.event_id: r.body for r in sent if r.expect == "accepted"}
            for event_id, inbox_id in zip(phase.accepted, phase.ids, strict=True):
                self.history[event_id] = (inbox_id, bodies[event_id])
            self.accepted.extend(phase.accepted)
            wrong = [
                (event_id, inbox_id)
                for event_id, inbox_id in phase.duplicates
                if self.history.get(event_id, (None, b""))[0] != inbox_id
            ]
            if wrong:
                self.report.problems.append(
                    f"{phase.label} round {phase.round}: {len(wrong)} redeliveries answered with "
                    f"another event's inbox id, e.g. {wrong[0]}"
                )
            limit = self.options.drain_timeout
            if await wait_for_sink(self.watcher, len(self.accepted), limit):
                arrivals = self.watcher.arrivals
                last = max((arrivals[e] for e in phase.accepted if e in arrivals), default=None)
                if last is not None:
                    phase.drain_seconds = max(0.0, last - phase.last_ack)
            else:
                self.report.problems.append(
                    f"{phase.label} round {phase.round}: the sink did not reach "
                    f"{len(self.accepted)} records within {limit:.0f} s"
                )
            if phase.mode == "open":
                arrivals = self.watcher.arrivals
                phase.ack_to_readable = [
                    arrivals[e] - acked for e, acked in phase.ack_times.items() if e in arrivals
                ]
                phase.lost = len(phase.ack_times) - len(phase.ack_to_readable)
        print_phase(phase, self.options.client_processes)
        for each in (self.bare, self.ingest):
            if each.process.poll() is not None:
                raise BenchmarkError(f"{each.name} exited during the run:\n{each.log_tail()}")
        return phase


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
        backends = await prepare_backends(options, stack, workdir, run_id)
        env, watcher = backends.env, backends.watcher
        database = make_url(env["DATABASE_URL"]).render_as_string(hide_password=True)
        report.configuration.update(
            database=database, sink=watcher.description, server_env=options.server_env
        )
        print(f"ingest: {database}, sink: {watcher.description}; directory {workdir}", flush=True)
        if backends.database_url is not None:
            settings = await postgres_settings(backends.database_url)
            report.machine["postgresql"] = settings
            durable = settings.get("fsync") == "on" and settings.get("synchronous_commit") == "on"
            print(
                f"PostgreSQL {settings.get('server_version')}: fsync={settings.get('fsync')}"
                f" synchronous_commit={settings.get('synchronous_commit')}"
                f" full_page_writes={settings.get('full_page_writes')}"
                f" shared_buffers={settings.get('shared_buffers')}",
                flush=True,
            )
            if not durable:
                report.notes.append(
                    "PostgreSQL is not durable (fsync or synchronous_commit off): commits are "
                    "cheaper than in production; use scripts/postgres.sh start --durable"
                )
                print(f"WARNING: {report.notes[-1]}", flush=True)
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
                server_environment(env),
                workdir,
                ingest_port,
            )
        )
        await asyncio.gather(wait_healthy(bare), wait_healthy(ingest))
        runner = Runner(options, report, bare, ingest, backends)
        await runner.rounds()
        if options.big_inbox_rows:
            await runner.big_inbox_rounds()
        published = await settled_records(watcher, len(runner.accepted))
        report.accepted_events = len(runner.accepted)
        report.sink_records = len(published)
        report.problems.extend(verify_ingest(report.phases, runner.accepted, published))
        report.server_duplicates = await scrape_duplicates(ingest)
        report.problems.extend(verify_duplicates(report))
        report.server_log_lines = count_lines(ingest.log_path)
    if not report.failed and not options.keep:
        shutil.rmtree(workdir, ignore_errors=True)


async def scrape_duplicates(server: Server) -> float | None:
    """The service's count of redeliveries it recognised, from /metrics; None if unreadable."""
    with contextlib.suppress(httpx.HTTPError):
        async with httpx.AsyncClient(base_url=server.url, timeout=30, trust_env=False) as client:
            response = await client.get("/metrics")
        for line in response.text.splitlines():
            if line.startswith("ingest_webhook_duplicates_total{") and f'"{SOURCE}"' in line:
                return float(line.rsplit(" ", 1)[1])
        return 0.0 if response.status_code == 200 else None
    return None


def verify_ingest(
    phases: Sequence[Phase], accepted: Sequence[str], published: Sequence[str]
) -> list[str]:
    """Every accepted event in the sink exactly once, nothing else; every inbox id distinct."""
    problems = []
    inbox_ids = [i for p in phases if p.kind == "ingest" for i in p.ids]
    if len(set(inbox_ids)) != len(inbox_ids):
        problems.append(f"{len(inbox_ids) - len(set(inbox_ids))} accepted requests shared an id")
    expected, seen = set(accepted), set(published)
    if len(expected) != len(accepted):
        problems.append(f"{len(accepted) - len(expected)} events were accepted twice")
    if missing := expected - seen:
        problems.append(f"{len(missing)} accepted events are not in the sink")
    if extra := seen - expected:
        problems.append(f"{len(extra)} events in the sink were not accepted")
    if duplicates := len(published) - len(seen):
        problems.append(f"{duplicates} events are in the sink more than once")
    return problems


def verify_duplicates(report: Report) -> list[str]:
    """Every redelivery answered `duplicate` (else it counted as a failed request), and the
    service's own counter agrees with what was sent."""
    sent = sum(p.redeliveries for p in report.phases)
    answered = sum(len(p.duplicates) for p in report.phases)
    problems = []
    if answered != sent:
        problems.append(f"{answered} duplicate answers for {sent} redeliveries")
    if report.server_duplicates is None:
        report.notes.append("could not read ingest_webhook_duplicates_total from /metrics")
    elif report.server_duplicates != answered:
        problems.append(
            f"the service counted {report.server_duplicates:.0f} duplicates, "
            f"{answered} were answered"
        )
    return problems


def count_lines(path: Path) -> int:
    try:
        with path.open("rb") as handle:
            return sum(1 for _ in handle)
    except OSError:
        return 0


# -- command line --------------------------------------------------------------------------------


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def concurrency_list(text: str) -> tuple[int, ...]:
    values = tuple(positive(part) for part in text.split(",") if part.strip())
    if not values:
        raise argparse.ArgumentTypeError("expected N or N,M,…")
    return values


def share(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError("must be in [0, 1)")
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
    parser.add_argument(
        "--concurrency",
        type=concurrency_list,
        default=(16, 64),
        metavar="N[,M…]",
        help="requests in flight in the closed-loop phases, one (bare, ingest) pair each "
        "(default 16,64); the first is used for the redelivery and big-inbox phases",
    )
    parser.add_argument("--rounds", type=positive, default=5, help="rounds of every phase")
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
        "--redeliveries",
        type=share,
        default=0.10,
        metavar="SHARE",
        help="share of the requests in the redelivery phase that are redeliveries of events "
        "accepted earlier (default 0.10; 0 skips the phase)",
    )
    parser.add_argument(
        "--open-loop-rate",
        type=float,
        default=TARGET_ACK_TO_KAFKA_RATE,
        metavar="PER_SECOND",
        help="events/s of the open-loop ack -> readable phase (default 500; 0 skips it)",
    )
    parser.add_argument(
        "--open-loop-seconds", type=float, default=10.0, help="length of the open-loop phase"
    )
    parser.add_argument(
        "--big-inbox",
        action="store_true",
        help="after the rounds, fill the inbox to --big-inbox-rows rows and run the (bare, "
        "ingest) pair at the first concurrency again (needs --database-url; takes minutes)",
    )
    parser.add_argument(
        "--big-inbox-rows",
        type=positive,
        metavar="N",
        help="rows for --big-inbox (default 5000000; implies --big-inbox)",
    )
    parser.add_argument(
        "--big-inbox-outbox",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="with the inbox rows, add as many published outbox records (default: yes)",
    )
    parser.add_argument(
        "--client",
        choices=sorted(SENDERS),
        default="raw",
        help="closed-loop load generator: raw HTTP/1.1 on asyncio streams (default) or "
        "httpx.AsyncClient (the open loop always uses raw)",
    )
    parser.add_argument(
        "--client-processes",
        type=positive,
        default=1,
        help="closed-loop load-generator processes sharing --concurrency (default 1)",
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
    parser.add_argument(
        "--results",
        type=Path,
        metavar="DIR",
        help="write DIR/<UTC timestamp>.json, DIR/<UTC timestamp>.md and DIR/latest.md "
        "(make bench: bench/results)",
    )
    args = parser.parse_args(argv)
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    if args.client_processes > min(args.concurrency):
        parser.error("--client-processes must not exceed --concurrency")
    if args.open_loop_rate < 0 or args.open_loop_seconds <= 0:
        parser.error("--open-loop-rate must be >= 0 and --open-loop-seconds > 0")
    big_inbox_rows = 0
    if args.big_inbox or args.big_inbox_rows:
        big_inbox_rows = args.big_inbox_rows or 5_000_000
        if not args.database_url:
            parser.error("--big-inbox needs --database-url (the fill is PostgreSQL SQL)")
    return Options(
        requests=args.requests,
        bare_requests=args.bare_requests,
        warmup=args.warmup,
        concurrencies=args.concurrency,
        rounds=args.rounds,
        database_url=args.database_url,
        kafka=args.kafka,
        client=args.client,
        client_processes=args.client_processes,
        server_env=dict(args.server_env),
        drain_timeout=args.drain_timeout,
        keep=args.keep,
        json_path=args.json,
        results_dir=args.results,
        redelivery_share=args.redeliveries,
        open_loop_rate=args.open_loop_rate,
        open_loop_seconds=args.open_loop_seconds,
        big_inbox_rows=big_inbox_rows,
        big_inbox_outbox=args.big_inbox_outbox,
    )


def describe_plan(options: Options) -> str:
    labels = Labels(options)
    per_round = [
        labels.closed(kind, c) for c in options.concurrencies for kind in ("bare", "ingest")
    ]
    if options.redelivery_share > 0:
        per_round.append(labels.redeliveries)
    if options.open_loop_rate > 0:
        per_round.append(f"{labels.open_loop} ({options.open_loop_seconds:g} s)")
    text = (
        f"{options.rounds} rounds of: {', '.join(per_round)}; {options.bare_requests} bare / "
        f"{options.requests} ingest timed requests per closed-loop phase, each after "
        f"{options.warmup} warm-up; {options.client} client in {options.client_processes} "
        "process(es)"
    )
    if options.big_inbox_rows:
        pair = [labels.closed(kind, options.primary) for kind in ("bare", "ingest")]
        text += (
            f"; then a {rows_label(options.big_inbox_rows)} inbox and {options.rounds} rounds "
            f"of {', '.join(pair)}"
        )
    return text


def load_text(values: Sequence[float]) -> str:
    return " ".join(f"{x:.2f}" for x in values)


def configuration(options: Options) -> dict[str, Any]:
    """The options as the results record them: the server URL without its password."""
    document = {k: v for k, v in dataclasses.asdict(options).items() if k != "json_path"}
    if options.database_url:
        url = make_url(options.database_url)
        document["database_url"] = url.render_as_string(hide_password=True)
    return document


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    machine = describe_machine()
    now = datetime.now(UTC)
    report = Report(
        configuration=configuration(options),
        machine=machine,
        started_at=now.strftime("%Y-%m-%d %H:%M:%S UTC"),
        stamp=now.strftime("%Y%m%dT%H%M%SZ"),
    )
    cores = machine["cpus"] or 1
    machine["busy_cores_at_start"] = run_event_loop(machine_busy_cores())
    print(
        f"{cores} CPUs ({machine['cpu_model']}), {machine['memory_gib']:.0f} GiB, Linux "
        f"{machine['kernel']}; Python {machine['python']}; "
        + ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    )
    print(
        f"load average at start: {load_text(machine['load_average_at_start'])}; machine busy "
        f"while idle: {machine['busy_cores_at_start']:.2f} of {cores} cores"
    )
    if (
        machine["busy_cores_at_start"] > BUSY_IDLE_CORES
        or (machine["load_average_at_start"] or [0])[0] > cores / 2
    ):
        report.notes.append(
            f"the machine was busy before the run (load average "
            f"{load_text(machine['load_average_at_start'])}, "
            f"{machine['busy_cores_at_start']:.2f} cores in use while idle): another job is "
            "running; absolute rates are low, ratios are more robust"
        )
        print(f"WARNING: {report.notes[-1]}")
    print(describe_plan(options), flush=True)
    started = time.monotonic()
    try:
        run_event_loop(benchmark(options, report))
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (
        OSError,
        KafkaError,
        asyncpg.PostgresError,
    ) as exc:  # a service unreachable, most likely
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        print(f"interrupted; files in {report.configuration.get('workdir')}", file=sys.stderr)
        return 130
    report.wall_seconds = time.monotonic() - started
    machine["load_average_at_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else []
    machine["busy_cores_at_end"] = run_event_loop(machine_busy_cores())
    summary = summarize(report, options)
    print_summary(report, summary, options)
    print(
        f"load average at end: {load_text(machine['load_average_at_end'])} (this run's own load "
        f"included); machine busy while idle: {machine['busy_cores_at_end']:.2f} of {cores} cores"
    )
    print(f"total time {report.wall_seconds:.0f} s")
    print_verdict(report)
    for path in write_results(report, summary, options):
        print(f"wrote {path}")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
