"""`scripts/postgres.sh` and `scripts/kafka.sh` in a second checkout: the first checkout's
services keep running after its `make test`; a second one reuses them rather than failing on a
port in use, and a port held by anything else fails at once, naming the port."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import support
from tests.faults.harness import distinct_free_ports

POSTGRES = ["bash", str(support.SCRIPTS / "postgres.sh")]
KAFKA = ["bash", str(support.SCRIPTS / "kafka.sh")]


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A registry of this test's own, so it neither sees nor disturbs the suite's services."""
    path = tmp_path / "registry"
    monkeypatch.setenv("INGEST_SERVICES_REGISTRY", str(path))
    return path


def run(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, check=False, env=os.environ.copy()
    )


def lines(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


@pytest.fixture
def occupied_port() -> Iterator[int]:
    """A port something other than our services listens on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


def test_a_second_checkout_reuses_the_first_ones_postgres(tmp_path: Path, registry: Path) -> None:
    port = str(support.free_port())
    first, second = tmp_path / "first", tmp_path / "second"
    started = lines(run([*POSTGRES, "start", "--dir", str(first), "--port", port]))
    try:
        reused = run([*POSTGRES, "start", "--dir", str(second), "--port", port])
        assert lines(reused) == started
        assert f"the PostgreSQL that {first} started; reusing it" in reused.stderr
        own_clusters = [second / "data", second / "cluster" / "data"]
        assert not any((d / "PG_VERSION").exists() for d in own_clusters), "no cluster of its own"

        # The second checkout's stop leaves the first one's server alone.
        assert run([*POSTGRES, "stop", "--dir", str(second)]).returncode == 0
        assert run([*POSTGRES, "status", "--dir", str(first)]).returncode == 0

        # A benchmark asking for fsync on is not handed the tests' fsync-off server.
        durable = run([*POSTGRES, "start", "--dir", str(second), "--port", port, "--durable"])
        assert durable.returncode == 1
        assert "fsync=off" in durable.stderr
        assert "--port" in durable.stderr
    finally:
        run([*POSTGRES, "stop", "--dir", str(first)])
    assert not list(registry.glob("postgres-*.env")), "stop forgets what it registered"


def test_a_second_checkout_reuses_the_first_ones_kafka(tmp_path: Path, registry: Path) -> None:
    port, controller, sasl, second_controller = (str(p) for p in distinct_free_ports(4))
    first, second = tmp_path / "first", tmp_path / "second"
    command = ["--port", port, "--controller-port", controller, "--sasl-port", sasl]
    started = lines(run([*KAFKA, "start", "--dir", str(first), *command]))
    try:
        assert started["KAFKA_SASL_SSL_BOOTSTRAP_SERVERS"] == f"127.0.0.1:{sasl}"
        elsewhere = ["--dir", str(second), "--port", port, "--controller-port", second_controller]
        reused = run([*KAFKA, "start", *elsewhere], timeout=60)
        assert lines(reused) == started, "the same broker, credentials and certificates"
        assert f"the broker that {first} started; reusing it" in reused.stderr
        assert run([*KAFKA, "stop", "--dir", str(second)]).returncode == 0
        assert run([*KAFKA, "status", "--dir", str(first)]).returncode == 0
    finally:
        run([*KAFKA, "stop", "--dir", str(first)])
    assert not list(registry.glob("kafka-*.env"))


def test_a_port_held_by_another_program_fails_at_once_naming_it(
    tmp_path: Path, registry: Path, occupied_port: int
) -> None:
    started = time.monotonic()
    taken = ["--port", str(occupied_port)]
    postgres = run([*POSTGRES, "start", "--dir", str(tmp_path / "pg"), *taken])
    assert postgres.returncode == 1
    assert f"127.0.0.1:{occupied_port} is already in use by another process" in postgres.stderr
    controller = str(support.free_port())
    kafka = run(
        [*KAFKA, "start", "--dir", str(tmp_path / "kafka"), *taken, "--controller-port", controller]
    )
    assert kafka.returncode == 1
    assert f"127.0.0.1:{occupied_port} is already in use by another process" in kafka.stderr
    assert time.monotonic() - started < 60, "no waiting on a port that will not free itself"


def test_a_cluster_id_that_would_read_as_an_option_is_drawn_again(
    tmp_path: Path, registry: Path
) -> None:
    """One id in 64 starts with "-" (base64url), which the storage tool took for an option:
    `kafka-storage format` failed and so did `make test`, now and then."""
    directory = tmp_path / "kafka"
    directory.mkdir()
    (directory / "cluster.id").write_text("-IBEK8rF0fxlQ5PxlvRWZg\n")
    port, controller, sasl = (str(p) for p in distinct_free_ports(3))
    command = ["--dir", str(directory), "--port", port, "--controller-port", controller]
    try:
        lines(run([*KAFKA, "start", *command, "--sasl-port", sasl]))
        cluster_id = (directory / "cluster.id").read_text().strip()
        assert cluster_id
        assert not cluster_id.startswith("-")
    finally:
        run([*KAFKA, "stop", "--dir", str(directory)])
