"""The CLI as a user meets it: help that reads well, exit codes that mean something."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import support

DEMO = support.ROOT / "examples" / "sources.demo.yaml"


@pytest.fixture
def demo_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory set up like `make run`: demo sources, SQLite inbox and file sink by default."""
    shutil.copy(DEMO, tmp_path / "sources.yaml")
    for name in (
        "DATABASE_URL",
        "KAFKA_BOOTSTRAP_SERVERS",
        "INGEST_SOURCES_FILE",
        "INGEST_SINK_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_help_lists_every_command() -> None:
    result = support.run_cli({}, support.ROOT, "--help")
    assert result.returncode == 0
    for command in ("serve", "relay", "migrate", "events", "outbox", "purge", "replay", "send"):
        assert f"  {command} " in result.stdout
    assert "Exit codes" in result.stdout


def test_quickstart_send_puts_a_normalized_cloudevent_in_the_sink(demo_dir: Path) -> None:
    """The README's promise: `make run`, `ingest send stripe` → a CloudEvent in events.jsonl."""
    with support.running_server({}, demo_dir) as server:
        sent = support.run_cli({}, demo_dir, "send", "stripe", "--url", server.url)
        assert sent.returncode == 0, sent.stderr
        assert "accepted" in sent.stdout
        sink = demo_dir / "events.jsonl"
        deadline = time.monotonic() + 10
        while not (sink.exists() and sink.read_text().strip()):
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.1)
        listed = support.run_cli({}, demo_dir, "events", "list", "--json")
    [event] = [json.loads(line) for line in sink.read_text().splitlines()]
    assert event["type"] == "payment.succeeded"
    assert event["data"]["amount"]["currency"] == "USD"
    assert (demo_dir / "ingest.db").exists()
    assert [json.loads(line)["status"] for line in listed.stdout.splitlines()] == ["processed"]
    assert "whsec_demo_stripe" not in server.log()


def test_send_rotation_with_the_second_secret(demo_dir: Path) -> None:
    result = support.run_cli({}, demo_dir, "send", "stripe", "--secret-index", "1")
    assert result.returncode == 2
    assert "has 1 secrets" in result.stderr


def test_send_to_nothing_listening_exits_5(demo_dir: Path) -> None:
    url = f"http://127.0.0.1:{support.free_port()}"
    result = support.run_cli({}, demo_dir, "send", "stripe", "--url", url)
    assert result.returncode == 5
    assert "cannot reach" in result.stderr


def test_send_rejected_exits_1(demo_dir: Path) -> None:
    with support.running_server({}, demo_dir) as server:
        other = demo_dir / "other"
        other.mkdir()
        (other / "sources.yaml").write_text(
            DEMO.read_text().replace("whsec_demo_stripe", "whsec_other")
        )
        result = support.run_cli({}, other, "send", "stripe", "--url", server.url)
    assert result.returncode == 1
    assert "invalid_signature" in result.stdout


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


def test_show_unknown_event_exits_1(demo_dir: Path) -> None:
    result = support.run_cli({}, demo_dir, "events", "show", "12345")
    assert result.returncode == 1
    assert "no event with id 12345" in result.stderr


def test_migrate_is_idempotent(postgres_server_url: str, tmp_path: Path) -> None:
    import asyncio  # noqa: PLC0415 - this one test needs a database of its own

    url = asyncio.run(support.create_database(postgres_server_url))
    first = support.run_cli({"DATABASE_URL": url}, tmp_path, "migrate")
    second = support.run_cli({"DATABASE_URL": url}, tmp_path, "migrate")
    assert first.returncode == 0, first.stderr
    assert "migrated database from empty to" in first.stdout
    assert "already at" in second.stdout


def test_help_imports_nothing_heavy() -> None:
    """`ingest --help` must not pay for SQLAlchemy, Alembic, aiokafka or the vendor SDKs."""
    probe = (
        "import sys\n"
        "from ingest.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = {'sqlalchemy', 'alembic', 'aiokafka', 'stripe', 'ingest.handlers', 'pydantic'}\n"
        "loaded = {m for m in sys.modules for h in heavy if m == h or m.startswith(h + '.')}\n"
        "print(sorted({h for h in heavy for m in loaded if m == h or m.startswith(h + '.')}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_the_help_table_says_what_each_command_says() -> None:
    from ingest.cli import COMMANDS  # noqa: PLC0415
    from ingest.cli.lazy import load  # noqa: PLC0415

    for name, command in COMMANDS.items():
        loaded = load(command)
        assert loaded.get_short_help_str(limit=200) == command.summary, name


def test_the_readmes_clerk_example_is_a_domain_event(demo_dir: Path) -> None:
    """The demo configures Clerk as Clerk: its user.created is identity.user.created, not the
    passthrough a generic Standard Webhooks source would publish."""
    with support.running_server({}, demo_dir) as server:
        sent = support.run_cli({}, demo_dir, "send", "clerk", "--url", server.url)
        assert sent.returncode == 0, sent.stderr
        sink = demo_dir / "events.jsonl"
        deadline = time.monotonic() + 10
        while not (sink.exists() and sink.read_text().strip()):
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.1)
    [event] = [json.loads(line) for line in sink.read_text().splitlines()]
    assert event["type"].startswith("identity.")
