"""`ingest replay` (`ingest.cli.replay`) as a user drives it: a selection is required, a
non-interactive run needs --yes, --dry-run lists and changes nothing, the summary line counts
what happened, exit 1 names each event that failed again, an unfinished run is resumed (or
restarted with --restart), and a bad --to-topic or --rate is a usage error.

On the embedded SQLite store with the demo sources and the real Stripe handler; what reaches
Kafka after a replay is the relay's job, covered with PostgreSQL and Kafka in
tests/ingest/test_replay.py."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ingest import migrate
from ingest.cli import main
from ingest.cli.common import ExitCode
from ingest.db import create_engine
from ingest.handlers.base import Verdict
from ingest.handlers.stripe import StripeHandler
from ingest.processing import Outcome
from ingest.replay import fingerprint
from ingest.simulation import simulator
from ingest.store import EventFilter, NewDelivery, Store

stripe = StripeHandler()
STATUS_FAILED: dict[str, object] = {
    "ids": [],
    "source": None,
    "status": "failed",
    "since": None,
    "until": None,
    "to_topic": None,
}
"""`ingest replay --status failed` as the command fingerprints it (to find a run to resume)."""


def payment(*, readable: bool = True) -> bytes:
    """A Stripe payment_intent.succeeded; unreadable: an amount the mapping cannot read."""
    body = simulator(stripe).sample("payment_intent.succeeded")
    if readable:
        return body
    event = json.loads(body)
    event["data"]["object"]["amount"] = "twenty"
    event["data"]["object"]["amount_received"] = None
    return json.dumps(event).encode()


async def record_failed(database: Path, bodies: list[bytes]) -> list[int]:
    """Store each body as a verified Stripe delivery whose first normalization failed."""
    engine = create_engine(f"sqlite:///{database}")
    try:
        await migrate.upgrade(engine)
        store = Store(engine)
        ids = []
        for body in bodies:
            event = json.loads(body)
            received = datetime.now(UTC)
            delivery = NewDelivery(
                "stripe", "stripe", event["id"], event["type"], body, {}, received, Verdict(0)
            )
            outcome = Outcome("failed", error="RuntimeError: mapping bug")
            ids.append((await store.record(delivery, outcome)).id)
        return ids
    finally:
        await engine.dispose()


async def start_run(database: Path, command: dict[str, object], total: int) -> int:
    """An unfinished run of `command`, as an interrupted `ingest replay` leaves it."""
    engine = create_engine(f"sqlite:///{database}")
    try:
        selection = EventFilter(status="failed")
        run = await Store(engine).start_replay_run(
            {**selection.describe(), "to_topic": None}, fingerprint(command), total
        )
        return run.id
    finally:
        await engine.dispose()


def seed(demo_dir: Path, *bodies: bytes) -> list[int]:
    return asyncio.run(record_failed(demo_dir / "ingest.db", list(bodies)))


def replay(env: dict[str, str], *arguments: str) -> Result:
    return CliRunner().invoke(main, ["replay", *arguments], env=env)


def shown(env: dict[str, str], event_id: int) -> dict[str, object]:
    result = CliRunner().invoke(main, ["events", "show", str(event_id), "--json"], env=env)
    assert result.exit_code == 0, result.output
    document: dict[str, object] = json.loads(result.stdout)
    return document


def test_a_replay_without_ids_or_filters_is_a_usage_error(demo_env: dict[str, str]) -> None:
    result = replay(demo_env, "--yes")
    assert result.exit_code == ExitCode.USAGE
    assert "select events: give IDs or --source/--status/--since/--until" in result.stderr


def test_without_yes_and_without_a_terminal_it_asks_for_yes_and_changes_nothing(
    demo_env: dict[str, str], demo_dir: Path
) -> None:
    [event_id] = seed(demo_dir, payment())
    result = replay(demo_env, "--status", "failed")
    assert result.exit_code == ExitCode.USAGE
    assert "1 events selected; pass --yes to replay without a prompt" in result.stderr
    assert shown(demo_env, event_id)["attempts"] == 1


def test_dry_run_lists_each_event_and_changes_nothing(
    demo_env: dict[str, str], demo_dir: Path
) -> None:
    first, second = seed(demo_dir, payment(), payment())
    result = replay(demo_env, "--status", "failed", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"would replay {first}  stripe  payment_intent.succeeded  failed  (attempts 1)",
        f"would replay {second}  stripe  payment_intent.succeeded  failed  (attempts 1)",
        "2 events would be replayed (dry run; nothing changed)",
    ]
    assert [shown(demo_env, i)["status"] for i in (first, second)] == ["failed", "failed"]


def test_replaying_failed_events_processes_them_and_queues_their_cloudevents(
    demo_env: dict[str, str], demo_dir: Path
) -> None:
    first, second = seed(demo_dir, payment(), payment())
    result = replay(demo_env, "--status", "failed", "--yes")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        "replayed 2: 2 processed, 0 failed, 0 skipped; 2 CloudEvents queued for publishing"
    )
    document = shown(demo_env, first)
    assert (document["status"], document["attempts"], document["last_error"]) == (
        "processed",
        2,
        None,
    )
    cloudevents = document["cloudevents"]
    assert isinstance(cloudevents, list)
    assert [(c["generation"], c["type"], c["publish_state"]) for c in cloudevents] == [
        (2, "payment.succeeded", "pending")
    ]
    assert shown(demo_env, second)["status"] == "processed"


def test_a_replay_to_a_shadow_topic_says_so_and_routes_there(
    demo_env: dict[str, str], demo_dir: Path
) -> None:
    [event_id] = seed(demo_dir, payment())
    result = replay(demo_env, str(event_id), "--to-topic", "payments.shadow", "--yes")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("1 CloudEvents queued for publishing to payments.shadow")
    cloudevents = shown(demo_env, event_id)["cloudevents"]
    assert isinstance(cloudevents, list)
    assert [c["topic"] for c in cloudevents] == ["payments.shadow"]


def test_an_event_that_fails_again_exits_1_and_is_named_with_its_error(
    demo_env: dict[str, str], demo_dir: Path
) -> None:
    good, bad = seed(demo_dir, payment(), payment(readable=False))
    result = replay(demo_env, "--status", "failed", "--yes")
    assert result.exit_code == ExitCode.FAILED
    assert "replayed 2: 1 processed, 1 failed, 0 skipped" in result.stdout
    [failure] = [line for line in result.stderr.splitlines() if line.startswith("  event ")]
    assert failure.startswith(f"  event {bad}: ")
    assert shown(demo_env, good)["status"] == "processed"
    assert (shown(demo_env, bad)["status"], shown(demo_env, bad)["attempts"]) == ("failed", 2)


def test_a_selection_that_matches_nothing_says_so_and_succeeds(
    demo_env: dict[str, str], demo_dir: Path
) -> None:
    seed(demo_dir, payment())
    result = replay(demo_env, "--source", "github", "--yes")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "no events match"


def test_many_events_show_a_progress_bar_on_stderr(
    demo_env: dict[str, str], demo_dir: Path
) -> None:
    seed(demo_dir, *(payment() for _ in range(12)))
    result = replay(demo_env, "--source", "stripe", "--yes")
    assert result.exit_code == 0, result.output
    assert "replaying" in result.stderr
    assert "replaying" not in result.stdout
    assert "12 processed" in result.stdout


def test_an_unfinished_run_of_the_same_command_is_resumed(
    demo_env: dict[str, str], demo_dir: Path
) -> None:
    seed(demo_dir, payment(), payment())
    run_id = asyncio.run(start_run(demo_dir / "ingest.db", STATUS_FAILED, total=2))
    resumed = replay(demo_env, "--status", "failed", "--yes")
    assert resumed.exit_code == 0, resumed.output
    assert f"resuming replay run {run_id}: 0 of 2 done before it was interrupted" in (
        resumed.stderr
    )
    assert "2 processed" in resumed.stdout


def test_restart_starts_over_instead_of_resuming(demo_env: dict[str, str], demo_dir: Path) -> None:
    seed(demo_dir, payment())
    asyncio.run(start_run(demo_dir / "ingest.db", STATUS_FAILED, total=1))
    result = replay(demo_env, "--status", "failed", "--restart", "--yes")
    assert result.exit_code == 0, result.output
    assert "resuming" not in result.stderr
    assert "replayed 1: 1 processed" in result.stdout


@pytest.mark.parametrize("topic", ["payments shadow", "payments.shadow\n", "payments/shadow", ""])
def test_a_topic_name_kafka_would_refuse_is_a_usage_error(
    demo_env: dict[str, str], topic: str
) -> None:
    """The whole name is checked, not a valid prefix of it."""
    result = replay(demo_env, "1", "--to-topic", topic, "--yes")
    assert result.exit_code == ExitCode.USAGE
    assert "a Kafka topic name" in result.stderr


def test_a_rate_below_a_tenth_per_second_is_a_usage_error(demo_env: dict[str, str]) -> None:
    result = replay(demo_env, "1", "--rate", "0.01", "--yes")
    assert result.exit_code == ExitCode.USAGE
    assert "--rate" in result.stderr


@pytest.mark.parametrize("rate", ["nan", "inf"])
def test_a_rate_that_is_no_number_of_events_per_second_is_a_usage_error(
    demo_env: dict[str, str], rate: str
) -> None:
    arguments = ["replay", "--status", "failed", "--rate", rate, "--yes"]
    result = CliRunner().invoke(main, arguments, env=demo_env)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"{rate} is not a finite number" in result.stderr
