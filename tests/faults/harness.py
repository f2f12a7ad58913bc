"""Fault injection: a vendor-like load, real kills and outages, and a checker that counts damage.

Every scenario in `tests/faults/` has the same shape. A `Load` behaves like a vendor: each entity
key sends its events one after another (the next only once the previous got a 2xx), keys run in
parallel, and anything that is not a 2xx is retried until it is. While it runs, the scenario
injects real faults (SIGKILL of a process, of the broker, a PostgreSQL restart, a network cut by
`Proxy`) at seeded random moments. Once the faults are over and the system has drained, `verify`
reads the truth back from PostgreSQL and from Kafka with a read_committed consumer and counts
what the delivery protocol (docs/delivery.md) promises never happens: an acknowledged event
lost, an event duplicated, an older event of a key after a newer one.

`INGEST_FAULTS=short` (the default, part of `make test`) injects a few faults per scenario;
`INGEST_FAULTS=full` (`make faults`) injects many and writes the table to
`tests/faults/last-run.md`. `INGEST_FAULTS_SEED` replays a run's fault timings (printed at the
start of each scenario and in the table); timings still depend on the machine, so a seed makes a
failure likelier to come back, not certain.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.helpers import create_ssl_context

from ingest.handlers.stripe import StripeHandler
from ingest.relay.wakeups import asyncpg_dsn
from ingest.simulation import simulator
from tests import support
from tests.handlers.kit import sign_headers

# -- mode and seed ---------------------------------------------------------------------------

MODE = (os.environ.get("INGEST_FAULTS") or "short").strip().lower()
if MODE not in {"short", "full"}:
    raise RuntimeError(f"INGEST_FAULTS must be 'short' or 'full', not {MODE!r}")
FULL = MODE == "full"
SEED = int(os.environ.get("INGEST_FAULTS_SEED") or secrets.randbelow(2**31))
TEST_TIMEOUT = 2400 if FULL else 300
"""pytest-timeout per scenario: the full mode's 20 kills take minutes, not the default 300 s."""

RESULTS_FILE = Path(__file__).with_name("last-run.md")

LEASE_SECONDS = 3.0
DELIVERY_TIMEOUT_SECONDS = 5.0
BACKOFF_MAX_SECONDS = 2.0

FAST_ENV = {
    # Short enough that a scenario sees takeovers, timeouts and backoff within seconds.
    "INGEST_RELAY_LEASE_SECONDS": f"{LEASE_SECONDS:g}",
    "INGEST_RELAY_BACKOFF_MAX_SECONDS": f"{BACKOFF_MAX_SECONDS:g}",
    "INGEST_KAFKA_DELIVERY_TIMEOUT_SECONDS": f"{DELIVERY_TIMEOUT_SECONDS:g}",
    "INGEST_RELAY_STALL_SECONDS": "2",
    "INGEST_RELAY_SHARDS": "4",
    "INGEST_DB_TIMEOUT_SECONDS": "2",
    "INGEST_RETRY_AFTER_SECONDS": "1",
    "INGEST_LOG_FORMAT": "json",
}


def rng(scenario: str) -> random.Random:
    """One generator per scenario, so a scenario's timings do not depend on which ran before."""
    return random.Random(f"{SEED}:{scenario}")  # noqa: S311 - timings, not cryptography


@dataclass(frozen=True)
class Plan:
    """How hard a scenario pushes: `faults` to inject, `keys` vendors in parallel, `pace` seconds
    (±50 %) between one key's events, `tail` events per key after the last fault."""

    faults: int
    keys: int = 8
    pace: float = 0.3
    tail: int = 3

    @staticmethod
    def pick(*, short: Plan, full: Plan) -> Plan:
        return full if FULL else short


class HangError(AssertionError):
    """Something that should have happened within its deadline did not: a hang is a bug too."""


# -- webhooks ----------------------------------------------------------------------------------

STRIPE = StripeHandler()
SUCCEEDED = "payment_intent.succeeded"
FAILED = "payment_intent.payment_failed"


def entity(key: int) -> str:
    """The payment intent id of key `key`: the CloudEvent's subject and Kafka key."""
    return f"pi_fault_{key}"


def webhook(
    event_id: str, key: str, seq: int, *, event_type: str = SUCCEEDED, pad: int = 0
) -> bytes:
    """A Stripe event for payment intent `key` whose amount is `seq + 1`: the sequence number
    survives normalization as `data.amount.amount_minor` in the CloudEvent."""
    event = json.loads(simulator(STRIPE).sample(event_type))
    event["id"] = event_id
    obj = event["data"]["object"]
    obj["id"] = key
    obj["amount"] = seq + 1
    if event_type == SUCCEEDED:
        obj["amount_received"] = seq + 1
    if pad:  # metadata is copied into the CloudEvent's data, so the record grows with it
        obj["metadata"]["padding"] = "x" * pad
    return json.dumps(event).encode()


def sequence_of(cloudevent: Mapping[str, Any]) -> int:
    return int(cloudevent["data"]["amount"]["amount_minor"]) - 1


# -- a small HTTP/1.1 client ---------------------------------------------------------------------


class HttpError(Exception):
    """No complete HTTP answer: to a vendor, the same as no answer at all."""


async def http(
    port: int,
    method: str,
    path: str,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    *,
    timeout: float = 10.0,
) -> tuple[int, bytes]:
    """One request on its own connection (`Connection: close`); (status, body).

    Raw asyncio rather than httpx: httpcore retries a failing import on every pool lock, which
    costs more than the request on this machine, and a vendor's client is this simple anyway."""
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
    ]
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
            await writer.drain()
            raw = await reader.read()
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    head, separator, content = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if not separator or len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise HttpError(f"no complete HTTP response ({len(raw)} bytes)")
    length = next(
        (
            int(line.split(":", 1)[1])
            for line in header_lines
            if line.lower().startswith("content-length:")
        ),
        None,
    )
    if length is not None and len(content) < length:
        raise HttpError(f"response body cut short ({len(content)} of {length} bytes)")
    return int(parts[1]), content


TRANSPORT_ERRORS = (OSError, TimeoutError, HttpError, asyncio.IncompleteReadError)


# -- the load --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Acked:
    """An event the vendor got a 2xx for. `seq` is its place in its key's sequence; poison
    events (`poison=True`) are extra deliveries between two of a key's sequence events."""

    event_id: str
    key: str
    seq: int
    poison: bool
    attempts: int
    answer: str


class Load:
    """Vendors sending Stripe webhooks, like a vendor: in sequence per key, retried until 2xx.

    Each key's task sends event 0, 1, 2… of its payment intent, sleeping about `plan.pace`
    between them, for as long as the scenario injects faults; after `finish()` each key sends
    `plan.tail` more, so the system is also seen working after the last fault. A delivery that
    gets no 2xx is sent again (re-signed, as Stripe does) with a short capped backoff; one that
    has no 2xx after `give_up_seconds` raises `HangError`. `poison` maps (key, seq) to the padding
    of an oversized payment-failed event sent just before that sequence event."""

    def __init__(
        self,
        scenario: str,
        *,
        port: Callable[[], int],
        plan: Plan,
        random_source: random.Random,
        poison: Mapping[tuple[int, int], int] | None = None,
        give_up_seconds: float = 120.0,
    ) -> None:
        self.scenario = scenario
        self.port = port
        self.plan = plan
        self.random = random_source
        self.poison = dict(poison or {})
        self.give_up_seconds = give_up_seconds
        self.run_id = secrets.token_hex(3)
        self.acked: list[Acked] = []
        self.answers: Counter[str] = Counter()
        self._finished = asyncio.Event()

    def finish(self) -> None:
        """The faults are over: every key sends its tail and stops."""
        self._finished.set()

    async def run(self) -> None:
        """Until every key sent its tail; the first `HangError` stops every key and is raised."""
        try:
            async with asyncio.TaskGroup() as group:
                for key in range(self.plan.keys):
                    group.create_task(self._vendor(key))
        except ExceptionGroup as failed:
            raise failed.exceptions[0] from None

    async def _vendor(self, key: int) -> None:
        seq = 0
        after_finish = 0
        while True:
            if self._finished.is_set():
                if after_finish >= self.plan.tail:
                    return
                after_finish += 1
            pad = self.poison.get((key, seq))
            if pad is not None:
                event_id = f"evt_fault_{self.run_id}_{key}_{seq}_poison"
                body = webhook(event_id, entity(key), seq, event_type=FAILED, pad=pad)
                await self._deliver(event_id, entity(key), seq, body, poison=True)
            event_id = f"evt_fault_{self.run_id}_{key}_{seq}"
            body = webhook(event_id, entity(key), seq)
            await self._deliver(event_id, entity(key), seq, body, poison=False)
            seq += 1
            await asyncio.sleep(self.plan.pace * self.random.uniform(0.5, 1.5))

    async def _deliver(
        self, event_id: str, key: str, seq: int, body: bytes, *, poison: bool
    ) -> None:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.give_up_seconds
        attempts = 0
        while True:
            attempts += 1
            headers = sign_headers(STRIPE, body, support.STRIPE_SECRET, time.time())
            answer = "?"
            try:
                status, content = await http(self.port(), "POST", "/webhooks/stripe", body, headers)
            except TRANSPORT_ERRORS:
                self.answers["no answer"] += 1
            else:
                self.answers[str(status)] += 1
                if 200 <= status < 300:
                    with contextlib.suppress(ValueError, KeyError, TypeError):
                        answer = str(json.loads(content)["status"])
                    self.acked.append(Acked(event_id, key, seq, poison, attempts, answer))
                    return
            if loop.time() > give_up:
                raise HangError(
                    f"{self.scenario}: {event_id} ({key} #{seq}) got no 2xx in "
                    f"{self.give_up_seconds:g} s and {attempts} attempts; answers so far "
                    f"{dict(self.answers)}"
                )
            await asyncio.sleep(
                min(0.05 * 2 ** min(attempts, 4), 0.5) * self.random.uniform(0.5, 1)
            )

    def summary(self) -> str:
        """Acks, how many were "duplicate" (stored before, the first answer was lost), and
        every answer the vendors got, retries included."""
        answers = ", ".join(f"{status} x{n}" for status, n in sorted(self.answers.items()))
        duplicates = sum(1 for acked in self.acked if acked.answer == "duplicate")
        return f"{len(self.acked)} acked, {duplicates} as duplicate; answers {answers}"


async def under_load(load: Load, faults: Coroutine[Any, Any, None]) -> None:
    """Run `faults` while `load` runs; then let the load send its tail. Whichever fails first
    (a fault step, or a delivery that hangs) cancels the other and is raised."""
    load_task = asyncio.ensure_future(load.run())
    fault_task = asyncio.ensure_future(faults)
    try:
        await asyncio.wait({load_task, fault_task}, return_when=asyncio.FIRST_COMPLETED)
        if load_task.done():
            load_task.result()  # raises the load's HangError, if that is why it ended
            raise AssertionError(f"{load.scenario}: the load ended before the faults did")
        await fault_task
        load.finish()
        await load_task
    finally:
        for task in (load_task, fault_task):
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task


class FaultLog:
    """What was injected when: printed as it happens (with -s) and quoted when a check fails."""

    def __init__(self, scenario: str) -> None:
        self.scenario = scenario
        self.started = time.monotonic()
        self.entries: list[str] = []
        self.count = 0
        print(f"\n[{scenario}] mode={MODE} seed={SEED} (replay: INGEST_FAULTS_SEED={SEED})")

    def note(self, text: str) -> None:
        entry = f"+{time.monotonic() - self.started:6.1f}s {text}"
        self.entries.append(entry)
        print(f"[{self.scenario}] {entry}", flush=True)

    def fault(self, text: str) -> None:
        self.count += 1
        self.note(f"fault {self.count}: {text}")

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


# -- processes ---------------------------------------------------------------------------------


def service_env(
    database_url: str, bootstrap: str, sources: Path, workdir: Path, **extra: str
) -> dict[str, str]:
    """What `ingest serve` / `ingest relay` need, with the fast fault knobs."""
    return {
        **support.SECRET_ENV,
        **FAST_ENV,
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "INGEST_SOURCES_FILE": str(sources),
        "INGEST_SINK_FILE": str(workdir / "unused.jsonl"),
        **extra,
    }


class Service:
    """One `python -m ingest …` process, started again as often as it is killed.

    Each incarnation logs to its own file (`<name>-<n>.log` in the work directory). `port`: ready
    once GET /healthz answers 200 there; otherwise ready once its log has `ready_event`."""

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        env: Mapping[str, str],
        workdir: Path,
        *,
        port: int | None = None,
        ready_event: str = "relay.process_started",
    ) -> None:
        self.name = name
        self.args = list(args)
        self.env = {**os.environ, **env}
        self.workdir = workdir
        self.port = port
        self.ready_event = ready_event
        self.incarnations = 0
        self.logs: list[Path] = []
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was never started"
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def spawn(self) -> None:
        self.incarnations += 1
        log_path = self.workdir / f"{self.name}-{self.incarnations}.log"
        self.logs.append(log_path)
        with log_path.open("wb") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ingest", *self.args],
                env=self.env,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )

    async def start(self, timeout: float = 60.0) -> None:
        self.spawn()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited {self.process.returncode} while starting:\n"
                    f"{self.logs[-1].read_text(errors='replace')[-3000:]}"
                )
            if await self._ready():
                return
            if loop.time() > deadline:
                raise HangError(f"{self.name} not ready after {timeout:g} s")
            await asyncio.sleep(0.1)

    async def _ready(self) -> bool:
        if self.port is None:
            return f'"{self.ready_event}"' in self.logs[-1].read_text(errors="replace")
        try:
            status, _ = await http(self.port, "GET", "/healthz", timeout=2)
        except TRANSPORT_ERRORS:
            return False
        return status == 200

    def kill(self) -> int:
        """SIGKILL: no shutdown handler runs, no lease is released, no transaction is ended."""
        assert self.process is not None, f"{self.name} was never started"
        assert self.alive, f"{self.name} is not running"
        pid = self.process.pid
        os.kill(pid, signal.SIGKILL)
        self.process.wait()
        return pid

    def stop(self) -> None:
        """At the end of a scenario: SIGTERM, then SIGKILL if it does not go."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log(self) -> str:
        return "".join(path.read_text(errors="replace") for path in self.logs if path.exists())


def log_summary(services: Sequence[Service], *, limit: int = 40) -> list[str]:
    """The services' warnings and errors, for a failure message: a count per event name, then
    the first line of each kind and the last `limit` lines of the rarer kinds (a 503 warning per
    refused webhook would bury everything else)."""
    lines: list[tuple[str, str]] = []  # (event name, rendered line)
    for service in services:
        for path in service.logs:
            if not path.exists():
                continue
            for line in path.read_text(errors="replace").splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    if "Traceback" in line or "Error" in line:
                        lines.append(("(not JSON)", f"{path.name}: {line[:300]}"))
                    continue
                if isinstance(entry, dict) and entry.get("level") in {
                    "warning",
                    "error",
                    "critical",
                }:
                    lines.append(
                        (str(entry.get("event")), f"{path.name}: {json.dumps(entry)[:400]}")
                    )
    counts = Counter(event for event, _ in lines)
    firsts: dict[str, str] = {}
    for event, rendered in lines:
        firsts.setdefault(event, rendered)
    rare = [rendered for event, rendered in lines if counts[event] <= limit]
    return [
        "warnings and errors in the service logs: "
        + (", ".join(f"{event} x{n}" for event, n in counts.most_common()) or "none"),
        *(f"  first {event}: {rendered}" for event, rendered in firsts.items()),
        *(f"  {rendered}" for rendered in rare[-limit:]),
    ]


def run_cli(env: Mapping[str, str], workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return support.run_cli(env, workdir, *args)


# -- PostgreSQL ---------------------------------------------------------------------------------

DATABASE_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class Database:
    """The test's own view of the service's database (asyncpg, one connection kept for polling
    and opened again after an outage)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dsn = asyncpg_dsn(url)
        self._connection: Any = None

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        if self._connection is None or self._connection.is_closed():
            self._connection = await asyncpg.connect(self.dsn, timeout=5)
        try:
            rows: list[Any] = await self._connection.fetch(query, *args, timeout=10)
        except BaseException:
            connection, self._connection = self._connection, None
            connection.terminate()
            raise
        return rows

    async def close(self) -> None:
        if self._connection is not None and not self._connection.is_closed():
            await self._connection.close()
        self._connection = None

    async def pending(self) -> int:
        rows = await self.fetch(
            "SELECT count(*) FROM outbox_events WHERE published_at IS NULL AND parked_at IS NULL"
        )
        return int(rows[0][0])

    async def parked(self) -> int:
        rows = await self.fetch(
            "SELECT count(*) FROM outbox_events "
            "WHERE parked_at IS NOT NULL AND published_at IS NULL"
        )
        return int(rows[0][0])

    async def published_since(self, moment: datetime) -> int:
        rows = await self.fetch(
            "SELECT count(*) FROM outbox_events WHERE published_at > $1", moment
        )
        return int(rows[0][0])

    async def shard_holders(self) -> dict[int, int]:
        """Shard → pid of the relay holding its unexpired lease (holder is host:pid:member)."""
        rows = await self.fetch(
            "SELECT name, holder FROM leases "
            "WHERE name LIKE 'relay-shard:%' AND expires_at > clock_timestamp()"
        )
        return {
            int(row["name"].split(":", 1)[1]): int(row["holder"].rsplit(":", 2)[-2]) for row in rows
        }

    async def shards_of(self, pid: int) -> int:
        return sum(1 for holder in (await self.shard_holders()).values() if holder == pid)


async def until(
    condition: Callable[[], Awaitable[bool]],
    *,
    timeout: float,
    what: str,
    interval: float = 0.05,
) -> float:
    """Seconds until `condition` held; `HangError` after `timeout`. A database that is down
    while we ask counts as "not yet"."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while True:
        with contextlib.suppress(*DATABASE_ERRORS):
            if await condition():
                return loop.time() - started
        if loop.time() - started > timeout:
            raise HangError(f"{what}: not within {timeout:g} s")
        await asyncio.sleep(interval)


def utcnow() -> datetime:
    return datetime.now(UTC)


async def progressed(database: Database, since: datetime, *, timeout: float = 60.0) -> float:
    """Wait until the relay published something after `since`: the next fault then hits a
    system that works again, not one still recovering from the last."""

    async def published() -> bool:
        return await database.published_since(since) > 0

    return await until(published, timeout=timeout, what="the relay published nothing new")


async def drained(database: Database, *, timeout: float = 90.0) -> float:
    """Seconds until nothing is pending (parked records excluded)."""

    async def empty() -> bool:
        return await database.pending() == 0

    return await until(empty, timeout=timeout, what="the outbox did not drain", interval=0.2)


POSTGRES_SCRIPT = ["bash", str(support.SCRIPTS / "postgres.sh")]


def pg_bindir() -> Path:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda path: [int(part) if part.isdigit() else 0 for part in path.split("/")],
    )
    if not candidates:
        raise AssertionError("no pg_ctl under /usr/lib/postgresql/*/bin")
    return Path(candidates[-1]).parent


class Postgres:
    """A PostgreSQL cluster of the test's own (scripts/postgres.sh), restarted and crashed with
    pg_ctl directly on its data directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = support.free_port()
        self.url = ""

    def start(self) -> str:
        self.url = support.script_output(
            [*POSTGRES_SCRIPT, "start", "--dir", str(self.directory), "--port", str(self.port)],
            "DATABASE_URL",
        )
        return self.url

    def stop(self) -> None:
        subprocess.run(
            [*POSTGRES_SCRIPT, "stop", "--dir", str(self.directory)],
            check=False,
            capture_output=True,
            timeout=120,
        )

    @property
    def home(self) -> Path:
        """Where the cluster lives: DIR, or the /tmp home DIR/cluster links to (postgres.sh
        moves it there when the postgres user cannot reach DIR's parent)."""
        link = self.directory / "cluster"
        return link.resolve() if link.is_symlink() else self.directory

    def pg_ctl(self, *args: str) -> None:
        command = [str(pg_bindir() / "pg_ctl"), *args, "-D", str(self.home / "data")]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(
            command,
            cwd="/",
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(f"pg_ctl {' '.join(args)} failed: {result.stdout}{result.stderr}")

    async def restart_fast(self) -> None:
        """`pg_ctl restart -m fast`: every connection is closed, the server is back in ~1 s."""
        log = str(self.home / "postgres.log")
        await asyncio.to_thread(self.pg_ctl, "restart", "-m", "fast", "-w", "-t", "60", "-l", log)

    async def stop_immediate(self) -> None:
        """`pg_ctl stop -m immediate`: the postmaster quits without a checkpoint, like a crash;
        the next start runs crash recovery."""
        await asyncio.to_thread(self.pg_ctl, "stop", "-m", "immediate", "-w", "-t", "60")

    async def start_again(self) -> None:
        log = str(self.home / "postgres.log")
        await asyncio.to_thread(self.pg_ctl, "start", "-w", "-t", "60", "-l", log)


# -- Kafka -----------------------------------------------------------------------------------

KAFKA_SCRIPT = ["bash", str(support.SCRIPTS / "kafka.sh")]

ClientOptions = Mapping[str, Any]
"""How the test's own Kafka clients (admin, checker, transaction watch) reach a broker."""


def plaintext(bootstrap: str) -> dict[str, Any]:
    return {"bootstrap_servers": bootstrap}


def distinct_free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = support.free_port()
        if port not in ports:
            ports.append(port)
    return ports


class Broker:
    """A broker of the suite's own (scripts/kafka.sh), so killing it disturbs no other test.

    It advertises `advertised_port`, where a `Proxy` forwards to the port it binds: every client
    connection, the service's and the checker's, goes through the proxy, which can cut them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port, self.controller_port, self.sasl_port, self.advertised_port = distinct_free_ports(
            4
        )

    @property
    def args(self) -> list[str]:
        return [
            "--dir",
            str(self.directory),
            "--port",
            str(self.port),
            "--controller-port",
            str(self.controller_port),
            "--sasl-port",
            str(self.sasl_port),
            "--advertised-port",
            str(self.advertised_port),
        ]

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.advertised_port}"

    def start(self) -> None:
        """Blocking (6 to 10 s); from a scenario use `await asyncio.to_thread(broker.start)`."""
        result = subprocess.run(
            [*KAFKA_SCRIPT, "start", *self.args],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(f"kafka.sh start failed:\n{result.stderr[-3000:]}")

    def running(self) -> bool:
        status = subprocess.run(
            [*KAFKA_SCRIPT, "status", "--dir", str(self.directory)],
            capture_output=True,
            timeout=60,
            check=False,
        )
        return status.returncode == 0

    def kill(self) -> int:
        """SIGKILL of the broker's JVM: no controlled shutdown, no flushed state."""
        pid = int((self.directory / "kafka.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        status = Path(f"/proc/{pid}/status")
        while status.exists():
            with contextlib.suppress(OSError):
                if "zombie" in status.read_text():
                    break
            time.sleep(0.05)
        return pid

    def stop(self) -> None:
        subprocess.run(
            [*KAFKA_SCRIPT, "stop", "--dir", str(self.directory)],
            check=False,
            capture_output=True,
            timeout=120,
        )


class OwnKafka:
    """The suite's broker and the proxy every client reaches it through."""

    def __init__(self, directory: Path) -> None:
        self.broker = Broker(directory)
        self.proxy = Proxy(self.broker.advertised_port, self.broker.port)

    @property
    def bootstrap(self) -> str:
        """For the service: PLAINTEXT through the proxy."""
        return self.broker.bootstrap

    @property
    def direct(self) -> dict[str, Any]:
        """For the test's own clients: the broker's SASL_SSL listener, which the proxy does not
        front, so the checker and the transaction watch see the broker as it is, undelayed and
        uncut, while the service's network is slow or cut."""
        tls = self.broker.directory / "tls"
        return {
            "bootstrap_servers": f"127.0.0.1:{self.broker.sasl_port}",
            "security_protocol": "SASL_SSL",
            "ssl_context": create_ssl_context(cafile=str(tls / "ca.pem")),
            "sasl_mechanism": "SCRAM-SHA-256",
            "sasl_plain_username": "ingest",
            "sasl_plain_password": (self.broker.directory / "sasl.password").read_text().strip(),
        }

    def start(self) -> None:
        """The first start formats the broker's storage; on this shared machine that has been
        seen to fail once without a word from Kafka's StorageTool, so it gets a second try (a
        restart after a kill, which is what the scenarios test, gets none)."""
        self.proxy.start()
        try:
            self.broker.start()
        except AssertionError as first:
            print(f"\nthe suite's broker did not start, trying once more: {first}")
            self.broker.start()

    def reset(self) -> None:
        """Before a scenario: whatever the last one left, the broker runs and the network is
        whole and fast."""
        self.proxy.restore()
        self.proxy.delay = 0.0
        if not self.broker.running():
            self.broker.start()

    def stop(self) -> None:
        self.broker.stop()
        self.proxy.close()


class Proxy:
    """A TCP proxy on its own thread and event loop (the scenario's loop blocks at times; the
    network must not). `cut()` closes every proxied connection and blackholes new ones: they are
    accepted and held, what the client sends is swallowed, nothing is forwarded or answered —
    a partition, not a refusal. `restore()` drops the held ones and forwards again.

    `delay` (seconds) holds back what the broker sends to clients, in order: a slow network.
    The broker then appends a transaction's records at once but the producer hears of it only
    `delay` later, so the relay's transactions stay open long enough for a kill to land inside
    one (before the relay sent its commit), rather than in the coordinator's commit phase."""

    def __init__(self, listen_port: int, target_port: int) -> None:
        self.listen_port = listen_port
        self.target_port = target_port
        self.forwarded = 0
        self.blackholed = 0
        self.delay = 0.0
        self._cut = False
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._held: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None

    def start(self) -> None:
        ready = threading.Event()

        def main() -> None:
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._accept, "127.0.0.1", self.listen_port)
            )
            ready.set()
            self._loop.run_forever()
            left = asyncio.all_tasks(self._loop)
            for task in left:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
            self._loop.close()

        self._thread = threading.Thread(target=main, name="kafka-proxy", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise AssertionError("the proxy did not start")

    def _run(self, action: Callable[[], None]) -> None:
        done = threading.Event()

        def call() -> None:
            try:
                action()
            finally:
                done.set()

        self._loop.call_soon_threadsafe(call)
        if not done.wait(10):
            raise AssertionError("the proxy's loop does not answer")

    def cut(self) -> None:
        def cut_now() -> None:
            self._cut = True
            for client, upstream in list(self._links):
                client.transport.abort()
                upstream.transport.abort()

        self._run(cut_now)

    def restore(self) -> None:
        def restore_now() -> None:
            self._cut = False
            for held in list(self._held):
                held.transport.abort()

        self._run(restore_now)

    def close(self) -> None:
        def close_now() -> None:
            if self._server is not None:
                self._server.close()
            for client, upstream in list(self._links):
                client.transport.abort()
                upstream.transport.abort()
            for held in list(self._held):
                held.transport.abort()
            self._loop.stop()

        if self._thread is None:
            self._loop.close()
            return
        self._run(close_now)
        self._thread.join(10)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut:
            await self._hold(reader, writer)
            return
        try:
            upstream_reader, upstream = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", self.target_port), 5
            )
        except (OSError, TimeoutError):
            writer.transport.abort()  # the broker is down: as good as a refused connection
            return
        if self._cut:  # cut while we connected
            upstream.transport.abort()
            await self._hold(reader, writer)
            return
        self.forwarded += 1
        link = (writer, upstream)
        self._links.add(link)
        try:
            await asyncio.gather(
                self._pipe(reader, upstream, writer),
                self._pipe(upstream_reader, writer, upstream, delayed=True),
            )
        finally:
            self._links.discard(link)

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.blackholed += 1
        self._held.add(writer)
        try:
            while await reader.read(65536):
                pass
        except OSError:
            pass
        finally:
            self._held.discard(writer)
            writer.transport.abort()

    async def _pipe(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        other: asyncio.StreamWriter,
        *,
        delayed: bool = False,
    ) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                sink.write(data)
                await sink.drain()

        sender = asyncio.ensure_future(deliver())
        try:
            while (data := await source.read(65536)) and not sender.done():
                queue.put_nowait((loop.time() + (self.delay if delayed else 0.0), data))
        except OSError:
            pass
        finally:
            # Either side gone: both go, like a connection dropped (what is still delayed too).
            sender.cancel()
            with contextlib.suppress(BaseException):
                await sender
            sink.transport.abort()
            other.transport.abort()


async def create_topic(
    kafka: ClientOptions,
    name: str,
    *,
    partitions: int = 3,
    configs: Mapping[str, str] | None = None,
) -> None:
    """Created beforehand, so the relay never holds records back for a missing topic."""
    admin = AIOKafkaAdminClient(**kafka)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, partitions, 1, topic_configs=dict(configs or {}))]
        )
    finally:
        await admin.close()


async def alter_topic(kafka: ClientOptions, name: str, configs: Mapping[str, str]) -> None:
    """Set topic configs and wait until the broker reports them."""
    admin = AIOKafkaAdminClient(**kafka)
    await admin.start()
    try:
        resource = ConfigResource(ConfigResourceType.TOPIC, name, configs=dict(configs))
        await admin.alter_configs([resource])
        for _ in range(50):
            described = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, name)]
            )
            entries = {entry[0]: entry[1] for entry in described[0].resources[0][4]}
            if all(entries.get(key) == value for key, value in configs.items()):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"topic {name} does not report {dict(configs)}")
    finally:
        await admin.close()


class Transactions:
    """Sees the relay's Kafka transaction on `topic` while it is open, so a fault can be timed
    into it: records produced, commit marker not yet written. Then a partition's high watermark
    (what read_uncommitted sees) is past its last stable offset (read_committed's end).

    A transaction is open for a few milliseconds per batch; polling both ends (~1 ms each)
    catches one within a second or so under load."""

    def __init__(self, kafka: ClientOptions, topic: str, partitions: int = 3) -> None:
        self.partitions = [TopicPartition(topic, p) for p in range(partitions)]
        options = {**kafka, "enable_auto_commit": False}
        self._uncommitted = AIOKafkaConsumer(**options, isolation_level="read_uncommitted")
        self._committed = AIOKafkaConsumer(**options, isolation_level="read_committed")

    async def __aenter__(self) -> Transactions:
        await self._uncommitted.start()
        await self._committed.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for consumer in (self._uncommitted, self._committed):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(consumer.stop(), 10)  # the broker may be dead by now

    async def open_now(self) -> bool:
        high, stable = await asyncio.gather(  # both ends at the same moment
            self._uncommitted.end_offsets(self.partitions),
            self._committed.end_offsets(self.partitions),
        )
        return any(stable[tp] < high[tp] for tp in self.partitions)

    async def wait_open(self, timeout: float) -> bool:
        """True as soon as a transaction is open; False if none was seen within `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if await self.open_now():
                return True
        return False


MOMENTS = ("in a transaction", "while records are pending", "at a random moment")
"""When a kill lands, chosen per fault by the seeded generator."""


async def wait_for_moment(
    moment: str, *, transactions: Transactions, database: Database, timeout: float = 15.0
) -> str:
    """Wait for the chosen kind of moment and return what it turned out to be (an open
    transaction is not always caught). The caller strikes right away: a transaction stays open
    only milliseconds."""
    if moment == "in a transaction":
        if await transactions.wait_open(timeout):
            return "in an open transaction"
        return "no open transaction seen"
    if moment == "while records are pending":

        async def pending() -> bool:
            return await database.pending() > 0

        await until(pending, timeout=timeout, what="records to publish", interval=0.01)
        return "while records are pending"
    return moment


async def read_topic(
    kafka: ClientOptions, topic: str, *, isolation: str = "read_committed", timeout: float = 90.0
) -> list[Any]:
    """Every record of `topic`, in (partition, offset) order, up to its end as `isolation` sees
    it (read_committed: the last stable offset, so nothing of an open or aborted transaction)."""
    consumer = AIOKafkaConsumer(
        topic,  # no group: the consumer is assigned every partition, from the beginning
        **kafka,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level=isolation,
        metadata_max_age_ms=1000,
    )
    await consumer.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not consumer.assignment():
            if loop.time() > deadline:
                raise HangError(f"topic {topic} has no partitions")
            await asyncio.sleep(0.1)
        tps = sorted(consumer.assignment(), key=lambda tp: tp.partition)
        end = await consumer.end_offsets(tps)
        records: list[Any] = []
        while True:
            positions = {tp: await consumer.position(tp) for tp in tps}
            if all(positions[tp] >= end[tp] for tp in tps):
                break
            if loop.time() > deadline:
                raise HangError(f"reading {topic}: at {positions}, end {end}")
            batch = await consumer.getmany(*tps, timeout_ms=500)
            for partition_records in batch.values():
                records.extend(partition_records)
    finally:
        await consumer.stop()
    return sorted(records, key=lambda record: (record.partition, record.offset))


# -- the checker -------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One scenario's count: the table row, and what to say if it is not clean."""

    scenario: str
    faults: int
    acked: int
    lost: int = 0
    duplicated: int = 0
    out_of_order: int = 0
    aborted_seen: int = 0
    """Records a read_uncommitted consumer sees and a read_committed one does not: those of
    aborted transactions, i.e. how often a fault really hit a transaction mid-way."""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.out_of_order or self.problems)

    def explain(self, faults: FaultLog, services: Sequence[Service]) -> str:
        return "\n".join(
            [
                f"{self.scenario} (mode {MODE}, seed {SEED}): {self.faults} faults, "
                f"{self.acked} acked, {self.lost} lost, {self.duplicated} duplicated, "
                f"{self.out_of_order} out of order",
                *self.problems,
                "faults:",
                *faults.entries,
                *log_summary(services),
                f"logs: {', '.join(str(p) for s in services for p in s.logs)}",
            ]
        )


RESULTS: list[Outcome] = []


def sample(items: Sequence[str] | set[str], limit: int = 8) -> str:
    ordered = sorted(items)
    more = f" … (+{len(ordered) - limit})" if len(ordered) > limit else ""
    return ", ".join(ordered[:limit]) + more


async def verify(
    scenario: str,
    *,
    database: Database,
    kafka: ClientOptions,
    topic: str,
    acked: Sequence[Acked],
    faults: int,
    parked_expected: int = 0,
) -> Outcome:
    """The four promises, checked after the faults are over and the outbox drained:

    1. every acked event is in the inbox exactly once (by vendor event id);
    2. every acked event is in Kafka exactly once, for a read_committed consumer of `topic`;
    3. per key, the sequence numbers in partition-offset order strictly increase;
    4. nothing is left pending in the outbox, and exactly `parked_expected` records are parked.

    Poison events (`Acked.poison`) are checked in the inbox only: they go to another topic."""
    everything = {a.event_id: a for a in acked}
    outcome = Outcome(scenario, faults, len(everything))
    if len(everything) != len(acked):
        outcome.problems.append("the load recorded an event as acked twice (a harness bug)")
    missing_inbox, inbox_duplicates = await _check_inbox(database, everything, outcome)
    good = {event_id: a for event_id, a in everything.items() if not a.poison}
    missing_kafka, kafka_duplicates = await _check_kafka(kafka, topic, good, outcome)
    pending = await database.pending()
    parked = await database.parked()
    if pending:
        outcome.problems.append(f"{pending} outbox records still pending")
    if parked != parked_expected:
        outcome.problems.append(f"{parked} outbox records parked, expected {parked_expected}")
    outcome.lost = len(missing_inbox | missing_kafka)
    outcome.duplicated = inbox_duplicates + kafka_duplicates
    return outcome


async def _check_inbox(
    database: Database, acked: Mapping[str, Acked], outcome: Outcome
) -> tuple[set[str], int]:
    """Acked events missing from the inbox, and inbox rows beyond one per event."""
    rows = await database.fetch(
        "SELECT vendor_event_id, count(*) AS n, min(status) AS status FROM inbox_events "
        "WHERE source = 'stripe' GROUP BY vendor_event_id"
    )
    inbox = {row["vendor_event_id"]: int(row["n"]) for row in rows}
    missing = set(acked) - set(inbox)
    duplicates = sum(inbox[event_id] - 1 for event_id in acked if inbox.get(event_id, 0) > 1)
    not_processed = {row["vendor_event_id"] for row in rows if row["status"] != "processed"}
    if missing:
        outcome.problems.append(f"acked but not in the inbox: {sample(missing)}")
    if duplicates:
        outcome.problems.append(f"inbox rows beyond one per event: {duplicates}")
    if not_processed:
        outcome.problems.append(f"inbox events not 'processed': {sample(not_processed)}")
    if unknown := set(inbox) - set(acked):
        outcome.notes.append(f"{len(unknown)} stored events the load never saw acked")
    return missing, duplicates


async def _check_kafka(
    kafka: ClientOptions, topic: str, acked: Mapping[str, Acked], outcome: Outcome
) -> tuple[set[str], int]:
    """Acked events missing from `topic`, and copies beyond one; counts out-of-order records."""
    committed = await read_topic(kafka, topic)
    uncommitted = await read_topic(kafka, topic, isolation="read_uncommitted")
    outcome.aborted_seen = len(uncommitted) - len(committed)
    seen: Counter[str] = Counter()
    strangers: set[str] = set()
    mismatched: list[str] = []
    by_key: dict[str, list[tuple[int, int, int, str]]] = defaultdict(list)
    for record in committed:
        cloudevent = json.loads(record.value)
        event_id = str(cloudevent["vendoreventid"])
        seen[event_id] += 1
        sent = acked.get(event_id)
        if sent is None:
            strangers.add(event_id)
            continue
        key = record.key.decode() if record.key is not None else None
        seq = sequence_of(cloudevent)
        if (key, seq, cloudevent.get("subject")) != (sent.key, sent.seq, sent.key):
            mismatched.append(f"{event_id} is {key} #{seq}, sent as {sent.key} #{sent.seq}")
        by_key[sent.key].append((record.partition, record.offset, seq, event_id))
    missing = set(acked) - set(seen)
    twice = {event_id for event_id, n in seen.items() if n > 1}
    if missing:
        outcome.problems.append(f"acked but not in Kafka: {sample(missing)}")
    if twice:
        outcome.problems.append(f"in Kafka more than once: {sample(twice)}")
    if strangers:
        outcome.problems.append(f"in Kafka but never acked: {sample(strangers)}")
    if mismatched:
        outcome.problems.append(f"records not as sent: {sample(mismatched)}")
    inversions: list[str] = []
    for key, entries in sorted(by_key.items()):
        if len({partition for partition, *_ in entries}) > 1:
            outcome.problems.append(f"{key} is spread over several partitions")
        inversions.extend(_inversions(key, entries))
    outcome.out_of_order = len(inversions)
    if inversions:
        outcome.problems.append(f"older after newer: {sample(inversions)}")
    return missing, sum(seen[event_id] - 1 for event_id in twice)


def _inversions(key: str, entries: Sequence[tuple[int, int, int, str]]) -> list[str]:
    """Records of `key` (partition, offset, seq, event id) whose seq is not above every seq
    before them in offset order. A second copy of an event is a duplicate, not an inversion."""
    found: list[str] = []
    newest = -1
    first_seen: set[str] = set()
    for _, offset, seq, event_id in sorted(entries):
        if event_id in first_seen:
            continue
        first_seen.add(event_id)
        if seq <= newest:
            found.append(f"{key} #{seq} at offset {offset} after #{newest}")
        newest = max(newest, seq)
    return found


def report(outcome: Outcome, faults: FaultLog, *notes: str) -> None:
    outcome.seconds = faults.elapsed
    outcome.notes.extend(notes)
    if outcome.aborted_seen:
        outcome.notes.append(f"{outcome.aborted_seen} aborted records hidden from read_committed")
    RESULTS.append(outcome)
    verdict = "clean" if outcome.clean else "FAILED"
    print(
        f"[{outcome.scenario}] {verdict}: {outcome.faults} faults, {outcome.acked} acked, "
        f"{outcome.lost} lost, {outcome.duplicated} duplicated, {outcome.out_of_order} out of "
        f"order, {outcome.seconds:.0f} s; {'; '.join(outcome.notes)}",
        flush=True,
    )


def table(outcomes: Sequence[Outcome]) -> str:
    lines = [
        "| scenario | faults injected | events acked | lost | duplicated | out of order "
        "| seconds | result | notes |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for o in outcomes:
        result = "pass" if o.clean else "FAIL"
        lines.append(
            f"| {o.scenario} | {o.faults} | {o.acked} | {o.lost} | {o.duplicated} "
            f"| {o.out_of_order} | {o.seconds:.0f} | {result} | {'; '.join(o.notes)} |"
        )
    return "\n".join(lines)


def describe_run(outcomes: Sequence[Outcome], wall_seconds: float) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return (
        f"# Fault injection, mode {MODE}\n\n"
        f"Run {when}, seed {SEED} (`INGEST_FAULTS_SEED={SEED}` replays the fault timings), "
        f"{wall_seconds:.0f} s wall time.\n\n{table(outcomes)}\n"
    )
