"""Test helpers: real services, a real server process, a real Kafka consumer, vendor signing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import yaml
from aiokafka import AIOKafkaConsumer
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"

STRIPE_SECRET = "whsec_test_stripe_secret_value_1"
STRIPE_SECRET_2 = "whsec_test_stripe_secret_value_2"
GITHUB_SECRET = "test-github-secret-value"
STANDARD_SECRET = (
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the Standard Webhooks spec's example key
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def script_output(args: list[str], key: str) -> str:
    """Run one of the project's service scripts and return the `KEY=value` it prints."""
    result = subprocess.run(args, check=True, capture_output=True, text=True, timeout=300)
    for line in result.stdout.splitlines():
        if line.startswith(f"{key}="):
            return line.split("=", 1)[1]
    raise AssertionError(f"{args[0]} printed no {key}: {result.stdout!r} {result.stderr[-2000:]!r}")


def sources_document(topic_suffix: str) -> dict[str, Any]:
    return {
        "sources": {
            "stripe": {
                "vendor": "stripe",
                "secrets": ["${TEST_STRIPE_SECRET}", "${TEST_STRIPE_SECRET_2}"],
                "tolerance_seconds": 300,
            },
            "github": {"vendor": "github", "secrets": ["${TEST_GITHUB_SECRET}"]},
            "clerk": {"vendor": "standard-webhooks", "secrets": ["${TEST_STANDARD_SECRET}"]},
        },
        "routes": [
            {"match": "payment.*", "topic": f"payments-{topic_suffix}"},
            {"match": "*", "source": "github", "topic": f"vcs-{topic_suffix}"},
        ],
        "default_topic": f"events-{topic_suffix}",
    }


SECRET_ENV = {
    "TEST_STRIPE_SECRET": STRIPE_SECRET,
    "TEST_STRIPE_SECRET_2": STRIPE_SECRET_2,
    "TEST_GITHUB_SECRET": GITHUB_SECRET,
    "TEST_STANDARD_SECRET": STANDARD_SECRET,
}


@dataclass(frozen=True)
class Topics:
    payments: str
    vcs: str
    default: str


def write_sources(directory: Path) -> tuple[Path, Topics]:
    suffix = uuid.uuid4().hex[:10]
    path = directory / "sources.yaml"
    path.write_text(yaml.safe_dump(sources_document(suffix)))
    return path, Topics(f"payments-{suffix}", f"vcs-{suffix}", f"events-{suffix}")


async def create_database(server_url: str, template: str | None = None) -> str:
    """A fresh database on the test server; returns its URL."""
    url = make_url(server_url)
    name = f"ingest_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, database="postgres"
    )
    try:
        suffix = f' TEMPLATE "{template}"' if template else ""
        await admin.execute(f'CREATE DATABASE "{name}"{suffix}')
    finally:
        await admin.close()
    return url.set(database=name).render_as_string(hide_password=False)


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def running_server(env: Mapping[str, str], workdir: Path, *args: str) -> Iterator[ServerProcess]:
    """`ingest serve` as a real process on a free port, stopped (SIGTERM) at the end."""
    port = free_port()
    log_path = workdir / f"server-{port}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "ingest", "serve", "--port", str(port), *args],
            env={**os.environ, **env, "INGEST_LOG_FORMAT": "json"},
            cwd=workdir,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = ServerProcess(f"http://127.0.0.1:{port}", process, log_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise AssertionError(f"server exited {process.returncode}:\n{server.log()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"server did not start:\n{server.log()}")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


CLI = [sys.executable, "-m", "ingest"]


def environment(env: Mapping[str, str]) -> dict[str, str]:
    return {**os.environ, **env, "INGEST_LOG_FORMAT": "json"}


def run_cli(env: Mapping[str, str], workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        env=environment(env),
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@contextlib.asynccontextmanager
async def kafka_consumer(bootstrap: str, *topics: str) -> AsyncIterator[AIOKafkaConsumer]:
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=f"test-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        metadata_max_age_ms=1000,
        # What the relay promises exactly-once to: records of aborted transactions are not seen.
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


async def consume(
    bootstrap: str,
    topics: list[str],
    *,
    expect: int,
    settle_seconds: float = 2.0,
    timeout: float = 60.0,
) -> list[Any]:
    """Read until `expect` records arrived, then keep reading `settle_seconds` to catch extras."""
    records: list[Any] = []
    async with kafka_consumer(bootstrap, *topics) as consumer:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        settle_until: float | None = None
        while True:
            now = loop.time()
            if settle_until is None and len(records) >= expect:
                settle_until = now + settle_seconds
            if (settle_until is not None and now >= settle_until) or now >= deadline:
                break
            batch = await consumer.getmany(timeout_ms=250)
            for partition_records in batch.values():
                records.extend(partition_records)
    return records


@dataclass(frozen=True)
class KafkaSasl:
    bootstrap: str
    username: str
    password: str
    cafile: str
    client_certfile: str
    client_keyfile: str
    untrusted_cafile: str


def kafka_sasl() -> KafkaSasl:
    """From `make test`'s environment, else from the local broker (started if need be)."""
    names = {
        "bootstrap": "KAFKA_SASL_SSL_BOOTSTRAP_SERVERS",
        "username": "KAFKA_SASL_USERNAME",
        "password": "KAFKA_SASL_PASSWORD",
        "cafile": "KAFKA_SSL_CAFILE",
        "client_certfile": "KAFKA_SSL_CLIENT_CERTFILE",
        "client_keyfile": "KAFKA_SSL_CLIENT_KEYFILE",
        "untrusted_cafile": "KAFKA_SSL_UNTRUSTED_CAFILE",
    }
    found = {field: os.environ.get(f"INGEST_TEST_{name}") for field, name in names.items()}
    if not all(found.values()):
        result = subprocess.run(
            [str(SCRIPTS / "kafka.sh"), "start"],
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        )
        lines = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
        found = {field: lines.get(name) for field, name in names.items()}
    missing = [names[field] for field, value in found.items() if not value]
    if missing:
        raise AssertionError(f"the broker script printed no {', '.join(missing)}")
    return KafkaSasl(**{field: str(value) for field, value in found.items()})
