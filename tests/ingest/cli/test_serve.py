"""`ingest serve`, `ingest relay` and `ingest migrate` (`ingest.cli.serve`): the long-running
processes refuse to start on a bad configuration or an unreachable database (exit 3, exit 4,
no traceback, no port bound), the relay publishes the outbox and stops cleanly on SIGTERM, and
`migrate` says what it did and can be run twice.

The processes run as real subprocesses on the embedded SQLite store and the file sink, as
`make run` has them; one migration test uses the PostgreSQL of the services tier."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from ingest import migrate as migrations
from ingest.cli import main
from ingest.cli.common import ExitCode
from ingest.cli.serve import multiprocess_metrics
from ingest.db import create_engine
from ingest.store import Store
from tests import support
from tests.ingest.relay.kit import add_records

# -- moved from test_commands.py -------------------------------------------------------------


def test_configuration_errors_exit_3_and_name_the_variable(demo_dir: Path) -> None:
    (demo_dir / "sources.yaml").write_text(
        "sources:\n  s:\n    vendor: stripe\n    secrets: ['${INGEST_TEST_UNSET_SECRET}']\n"
    )
    result = support.run_cli({}, demo_dir, "serve")
    assert result.returncode == 3
    assert "INGEST_TEST_UNSET_SECRET" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_sources_file_exits_3(tmp_path: Path) -> None:
    result = support.run_cli(
        {"INGEST_SOURCES_FILE": str(tmp_path / "nope.yaml")}, tmp_path, "serve"
    )
    assert result.returncode == 3
    assert "does not exist" in result.stderr


def test_migrate_is_idempotent(postgres_server_url: str, tmp_path: Path) -> None:
    import asyncio  # noqa: PLC0415 - this one test needs a database of its own

    url = asyncio.run(support.create_database(postgres_server_url))
    first = support.run_cli({"DATABASE_URL": url}, tmp_path, "migrate")
    second = support.run_cli({"DATABASE_URL": url}, tmp_path, "migrate")
    assert first.returncode == 0, first.stderr
    assert "migrated database from empty to" in first.stdout
    assert "already at" in second.stdout


# -- new ------------------------------------------------------------------------------------


def test_serve_with_an_unreachable_database_exits_4_before_listening(demo_dir: Path) -> None:
    port = support.free_port()
    database = f"postgresql://ingest:db-password-1@127.0.0.1:{support.free_port()}/ingest"
    result = support.run_cli({"DATABASE_URL": database}, demo_dir, "serve", "--port", str(port))
    assert result.returncode == ExitCode.DATABASE
    assert "the database is unreachable" in result.stderr
    assert "check DATABASE_URL" in result.stderr
    assert "db-password-1" not in result.stderr
    assert "Traceback" not in result.stderr


def test_relay_with_a_bad_sources_file_exits_3(demo_dir: Path) -> None:
    (demo_dir / "sources.yaml").write_text("sources:\n  s:\n    vendor: no-such-vendor\n")
    result = support.run_cli({}, demo_dir, "relay")
    assert result.returncode == ExitCode.CONFIG
    assert "no-such-vendor" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_on_sqlite_names_the_revisions_and_then_says_it_is_current(
    demo_env: dict[str, str],
) -> None:
    head = migrations.head_revision()
    runner = CliRunner()
    first = runner.invoke(main, ["migrate"], env=demo_env)
    second = runner.invoke(main, ["migrate"], env=demo_env)
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == f"migrated database from empty to {head}"
    assert second.exit_code == 0, second.output
    assert second.stdout.strip() == f"database already at {head}"


async def seed_outbox(database: Path) -> None:
    engine = create_engine(f"sqlite:///{database}")
    try:
        await migrations.upgrade(engine)
        await add_records(Store(engine), [("orders", b'{"n":1}'), ("orders", b'{"n":2}')])
    finally:
        await engine.dispose()


def test_relay_publishes_the_outbox_and_stops_cleanly_on_sigterm(demo_dir: Path) -> None:
    asyncio.run(seed_outbox(demo_dir / "ingest.db"))
    sink = demo_dir / "events.jsonl"
    log = demo_dir / "relay.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*support.CLI, "relay"],
            env=support.environment({}),
            cwd=demo_dir,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not (sink.exists() and len(sink.read_text().splitlines()) >= 2):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert [json.loads(line)["n"] for line in sink.read_text().splitlines()] == [1, 2]
    events = [json.loads(line)["event"] for line in log.read_text().splitlines()]
    assert "relay.process_started" in events
    assert "relay.process_stopped" in events


def test_relay_with_a_port_answers_health_probes(demo_dir: Path) -> None:
    port = support.free_port()
    process = subprocess.Popen(
        [*support.CLI, "relay", "--port", str(port)],
        env=support.environment({}),
        cwd=demo_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.communicate()[1]
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert health.status_code == 200
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert metrics.status_code == 200
        assert httpx.post(f"http://127.0.0.1:{port}/webhooks/stripe", timeout=5).status_code in (
            404,
            405,
        )  # a relay serves probes, not webhooks
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_multiprocess_metrics_use_a_temporary_directory_and_remove_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    with multiprocess_metrics():
        directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
        assert directory.is_dir()
        assert directory.name.startswith("ingest-metrics-")
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    assert not directory.exists()


def test_multiprocess_metrics_keep_a_chosen_directory_but_drop_an_earlier_runs_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = tmp_path / "metrics"
    chosen.mkdir()
    (chosen / "counter_1234.db").write_bytes(b"old counts")
    (chosen / "notes.txt").write_text("not ours")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(chosen))
    with multiprocess_metrics():
        assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(chosen)
        assert sorted(p.name for p in chosen.iterdir()) == ["notes.txt"]
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(chosen)
    assert chosen.is_dir()
