"""The file sink `make run` uses instead of Kafka: whole batches appended, one CloudEvent a
line, fsynced; a path it cannot write is `sink_down` (the relay retries), never a lost batch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.outbox import PendingRecord
from ingest.sinks.base import Cause, SinkUnavailableError
from ingest.sinks.file import FileSink


def records(*values: dict[str, object]) -> list[PendingRecord]:
    return [
        PendingRecord(id=index, topic="t", key="k", value=json.dumps(value).encode())
        for index, value in enumerate(values, 1)
    ]


async def test_a_batch_is_appended_one_line_a_record_and_reported_delivered(
    tmp_path: Path,
) -> None:
    sink = FileSink(tmp_path / "out" / "events.jsonl")
    publisher = sink.publisher(0)
    assert await publisher.open() == []
    first = await publisher.publish(records({"n": 1}, {"n": 2}), carried=[])
    second = await publisher.publish(records({"n": 3}), carried=[])
    assert (first.delivered, second.delivered) == ([1, 2], [1])
    lines = (tmp_path / "out" / "events.jsonl").read_text().splitlines()
    assert [json.loads(line)["n"] for line in lines] == [1, 2, 3]


async def test_a_path_that_cannot_be_written_is_a_sink_outage(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("where the sink wants a directory")
    sink = FileSink(blocker / "events.jsonl")
    with pytest.raises(SinkUnavailableError) as raised:
        await sink.publisher(0).publish(records({"n": 1}), carried=[])
    assert raised.value.cause is Cause.WRITE_FAILED
    assert str(blocker) in raised.value.message
