"""`ingest events list` and `ingest events show` (`ingest.cli.events`): what arrived, newest
first, filtered by source, status and time; and one event in full — headers, the raw body (as
text, or base64 when it is not UTF-8), and the CloudEvents it became with their publish state.

Run in-process on the embedded SQLite store, seeded through the store's own API, because what
is checked is the command's output, not the database."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ingest import migrate
from ingest.cli import main
from ingest.cli.common import ExitCode
from ingest.db import create_engine
from ingest.handlers.base import Verdict
from ingest.outbox import OutboxStore
from ingest.processing import OutboxRecord, Outcome
from ingest.store import NewDelivery, Store
from tests import support

NOW = datetime.now(UTC).replace(microsecond=0)
BINARY = b"\xff\xfe\x00binary"


def delivery(event_id: str, event_type: str, age: timedelta, **fields: object) -> NewDelivery:
    body = fields.pop("body", json.dumps({"id": event_id, "type": event_type}).encode())
    assert isinstance(body, bytes)
    return NewDelivery(
        str(fields.pop("source", "stripe")),
        "stripe",
        event_id,
        event_type,
        body,
        {"content-type": "application/json", "stripe-signature": "t=1,v1=[redacted]"},
        NOW - age,
        Verdict(0, signed_at=1_700_000_000),
    )


def emitted(event_id: str, type_: str) -> OutboxRecord:
    value = json.dumps({"specversion": "1.0", "id": f"ce-{event_id}", "type": type_}).encode()
    return OutboxRecord(
        seq=0, cloudevent_id=f"ce-{event_id}", type=type_, topic="payments", key="k", value=value
    )


async def seed(database: Path) -> dict[str, int]:
    """Four events: processed and published (3 days old), failed (2 h), processed with its
    CloudEvent still pending (1 h, from another source), and one with a binary body (now)."""
    engine = create_engine(f"sqlite:///{database}")
    try:
        await migrate.upgrade(engine)
        store, outbox = Store(engine), OutboxStore(engine)
        ids: dict[str, int] = {}
        published = Outcome("processed", records=(emitted("evt_old", "payment.succeeded"),))
        old = delivery("evt_old", "payment_intent.succeeded", timedelta(days=3))
        ids["published"] = (await store.record(old, published)).id
        await outbox.mark_published([r.id for r in await outbox.pending(limit=10)])
        failing = delivery("evt_failed", "charge.refunded", timedelta(hours=2))
        failed = Outcome("failed", error="KeyError: missing field 'amount'")
        ids["failed"] = (await store.record(failing, failed)).id
        other = delivery("evt_other", "customer.created", timedelta(hours=1), source="shop")
        pending = Outcome("processed", records=(emitted("evt_other", "customer.created"),))
        ids["pending"] = (await store.record(other, pending)).id
        binary = delivery("evt_binary", "binary.thing", timedelta(0), body=BINARY)
        ids["binary"] = (await store.record(binary, Outcome("processed"))).id
        return ids
    finally:
        await engine.dispose()


@pytest.fixture
def seeded(demo_dir: Path) -> dict[str, int]:
    return asyncio.run(seed(demo_dir / "ingest.db"))


def run(env: dict[str, str], *arguments: str) -> Result:
    return CliRunner().invoke(main, ["events", *arguments], env=env)


def listed_ids(result: Result) -> list[int]:
    assert result.exit_code == 0, result.output
    return [json.loads(line)["id"] for line in result.stdout.splitlines()]


# -- moved from test_commands.py -------------------------------------------------------------


def test_show_unknown_event_exits_1(demo_dir: Path) -> None:
    result = support.run_cli({}, demo_dir, "events", "show", "12345")
    assert result.returncode == 1
    assert "no event with id 12345" in result.stderr


# -- new: list ------------------------------------------------------------------------------


def test_list_shows_the_newest_first_with_what_each_event_became(
    demo_env: dict[str, str], seeded: dict[str, int]
) -> None:
    result = run(demo_env, "list", "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["id"] for row in rows] == [
        seeded["binary"],
        seeded["pending"],
        seeded["failed"],
        seeded["published"],
    ]
    by_id = {row["id"]: row for row in rows}
    assert by_id[seeded["published"]]["publish_state"] == "published"
    assert by_id[seeded["published"]]["cloudevent_types"] == ["payment.succeeded"]
    assert by_id[seeded["pending"]]["cloudevents"] == {"published": 0, "pending": 1, "parked": 0}
    assert by_id[seeded["failed"]]["status"] == "failed"
    assert by_id[seeded["failed"]]["last_error"] == "KeyError: missing field 'amount'"
    assert by_id[seeded["failed"]]["received_at"].endswith("Z")


def test_list_filters_by_source_status_and_time(
    demo_env: dict[str, str], seeded: dict[str, int]
) -> None:
    assert listed_ids(run(demo_env, "list", "--json", "--source", "shop")) == [seeded["pending"]]
    assert listed_ids(run(demo_env, "list", "--json", "--status", "failed")) == [seeded["failed"]]
    assert listed_ids(run(demo_env, "list", "--json", "--since", "1d")) == [
        seeded["binary"],
        seeded["pending"],
        seeded["failed"],
    ]
    until = (NOW - timedelta(minutes=90)).isoformat()
    assert listed_ids(run(demo_env, "list", "--json", "--until", until)) == [
        seeded["failed"],
        seeded["published"],
    ]
    assert listed_ids(run(demo_env, "list", "--json", "--limit", "1")) == [seeded["binary"]]


def test_list_as_a_table_has_a_header_and_one_line_per_event(
    demo_env: dict[str, str], seeded: dict[str, int]
) -> None:
    result = run(demo_env, "list")
    assert result.exit_code == 0, result.output
    header, *lines = result.stdout.splitlines()
    assert header.split() == [
        "ID",
        "RECEIVED",
        "(UTC)",
        "SOURCE",
        "STATUS",
        "TRIES",
        "VENDOR",
        "TYPE",
        "CLOUDEVENT",
        "PUBLISHED",
    ]
    assert len(lines) == 4
    [failed] = [line for line in lines if line.split()[0] == str(seeded["failed"])]
    assert failed.split()[3:7] == ["stripe", "failed", "1", "charge.refunded"]
    [published] = [line for line in lines if line.split()[0] == str(seeded["published"])]
    assert published.split()[-2:] == ["payment.succeeded", "published"]


def test_list_with_nothing_stored_says_so_on_stderr_and_succeeds(
    demo_env: dict[str, str],
) -> None:
    result = run(demo_env, "list")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr.strip() == "no events"


def test_list_refuses_a_status_that_does_not_exist(demo_env: dict[str, str]) -> None:
    result = run(demo_env, "list", "--status", "exploded")
    assert result.exit_code == ExitCode.USAGE
    assert "'exploded' is not one of" in result.stderr


# -- new: show ------------------------------------------------------------------------------


def test_show_as_json_has_headers_body_and_cloudevents(
    demo_env: dict[str, str], seeded: dict[str, int]
) -> None:
    result = run(demo_env, "show", str(seeded["published"]), "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["id"] == seeded["published"]
    assert document["vendor_event_id"] == "evt_old"
    assert document["signed_at"] == 1_700_000_000
    assert document["headers"]["content-type"] == "application/json"
    assert document["body"] == {
        "encoding": "utf-8",
        "text": '{"id": "evt_old", "type": "payment_intent.succeeded"}',
    }
    [cloudevent] = document["cloudevents"]
    assert cloudevent["id"] == "ce-evt_old"
    assert cloudevent["type"] == "payment.succeeded"
    assert cloudevent["publish_state"] == "published"
    assert cloudevent["published_at"]
    assert cloudevent["cloudevent"]["specversion"] == "1.0"


def test_show_gives_a_body_that_is_not_utf8_as_base64(
    demo_env: dict[str, str], seeded: dict[str, int]
) -> None:
    result = run(demo_env, "show", str(seeded["binary"]), "--json")
    body = json.loads(result.stdout)["body"]
    assert body["encoding"] == "base64"
    assert base64.b64decode(body["text"]) == BINARY


def test_show_as_text_lists_fields_headers_body_and_pending_cloudevents(
    demo_env: dict[str, str], seeded: dict[str, int]
) -> None:
    result = run(demo_env, "show", str(seeded["pending"]))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert f"id:                 {seeded['pending']}" in lines
    assert "source:             shop" in lines
    assert "last_error:         -" in lines
    assert "  content-type: application/json" in lines
    body = '{"id": "evt_other", "type": "customer.created"}'
    assert f"body (utf-8, {len(body)} bytes):" in lines
    assert body in lines
    assert "cloudevents (1):" in lines
    [record] = [line for line in lines if line.startswith("  gen ")]
    assert "ce-evt_other" in record
    assert "customer.created" in record
    assert record.endswith("published=pending")


def test_show_of_a_failed_event_shows_its_error(
    demo_env: dict[str, str], seeded: dict[str, int]
) -> None:
    result = run(demo_env, "show", str(seeded["failed"]))
    assert "status:             failed" in result.stdout.splitlines()
    assert "last_error:         KeyError: missing field 'amount'" in result.stdout.splitlines()
    assert "cloudevents (0):" in result.stdout.splitlines()
