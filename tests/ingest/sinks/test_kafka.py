"""`KafkaSink` and its publishers (ingest/sinks/kafka.py) against the real broker: the
transactional publisher's fencing, recovery of the last committed marker (however far back it
is), aborted work invisible to read_committed consumers, records refused before sending or by the
broker (suspect), and compressed batches read back intact."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from ingest.outbox import PendingRecord
from ingest.settings import Settings
from ingest.sinks.base import Cause, RejectionKind, SinkUnavailableError
from ingest.sinks.kafka import HEADERS, KafkaSink, TransactionalPublisher
from ingest.sinks.kafka_client import KafkaConfig
from tests import support

pytestmark = pytest.mark.kafka


def records(topic: str, ids: range, size: int = 50) -> list[PendingRecord]:
    return [PendingRecord(id=i, topic=topic, key=f"key-{i % 3}", value=b"x" * size) for i in ids]


@pytest.fixture
def config(kafka_bootstrap: str) -> KafkaConfig:
    suffix = uuid.uuid4().hex[:8]
    return KafkaConfig.from_settings(
        Settings(
            KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
            INGEST_KAFKA_PROGRESS_TOPIC=f"progress-{suffix}",
            INGEST_KAFKA_DELIVERY_TIMEOUT_SECONDS=10,
        )
    )


@pytest.fixture
async def sink(config: KafkaConfig) -> KafkaSink:
    sink = KafkaSink(config)
    await sink.prepare(shards=1, instance=uuid.uuid4().hex[:16], holder="test")
    return sink


@pytest.fixture
def topic() -> str:
    return f"events-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def publishers(sink: KafkaSink) -> AsyncIterator[Callable[[], TransactionalPublisher]]:
    made: list[TransactionalPublisher] = []

    def make() -> TransactionalPublisher:
        publisher = sink.publisher(0)
        assert isinstance(publisher, TransactionalPublisher)
        made.append(publisher)
        return publisher

    yield make
    for publisher in made:
        await publisher.close()


async def read_committed(bootstrap: str, topic: str, expect: int) -> list[bytes]:
    found = await support.consume(bootstrap, [topic], expect=expect, settle_seconds=1.5, timeout=20)
    return [record.value for record in found]


async def test_the_next_holder_recovers_what_the_last_transaction_committed(
    publishers: Callable[[], TransactionalPublisher], topic: str, kafka_bootstrap: str
) -> None:
    first = publishers()
    assert await first.open() == []
    one = await first.publish(records(topic, range(1, 4)), carried=[])
    assert one.delivered == [1, 2, 3]
    two = await first.publish(records(topic, range(4, 6)), carried=[1, 2, 3])
    assert two.delivered == [4, 5]

    # A crash before the database heard of either: the new holder learns both from the marker.
    second = publishers()
    assert sorted(await second.open()) == [1, 2, 3, 4, 5]
    # …and the old one is fenced: it can never commit again.
    with pytest.raises(SinkUnavailableError) as refused:
        await first.publish(records(topic, range(6, 7)), carried=[])
    assert refused.value.cause in {Cause.FENCED, Cause.OTHER}
    assert len(await read_committed(kafka_bootstrap, topic, expect=5)) == 5


async def test_an_unfinished_transaction_is_aborted_by_the_next_holder(
    publishers: Callable[[], TransactionalPublisher], topic: str, kafka_bootstrap: str
) -> None:
    first = publishers()
    await first.open()
    assert (await first.publish(records(topic, range(1, 3)), carried=[])).delivered == [1, 2]
    # Mid-transaction: records sent, never committed (the relay was killed here).
    producer = first.producer
    await producer.begin_transaction()
    for record in records(topic, range(3, 6)):
        await producer.send_and_wait(
            record.topic, value=record.value, key=record.key.encode(), headers=HEADERS
        )

    second = publishers()
    assert sorted(await second.open()) == [1, 2]  # the last *committed* marker
    assert (await second.publish(records(topic, range(3, 6)), carried=[])).delivered == [3, 4, 5]
    assert len(await read_committed(kafka_bootstrap, topic, expect=5)) == 5


async def test_reopening_after_many_transactions_finds_the_newest_marker(
    publishers: Callable[[], TransactionalPublisher], topic: str
) -> None:
    """More transactions than the first look-back window (64 offsets): it widens until found."""
    first = publishers()
    await first.open()
    for start in range(1, 121, 3):
        await first.publish(records(topic, range(start, start + 3)), carried=[])
    second = publishers()
    assert sorted(await second.open()) == [118, 119, 120]


async def test_a_record_over_the_producer_limit_is_refused_before_sending(
    publishers: Callable[[], TransactionalPublisher], topic: str, kafka_bootstrap: str
) -> None:
    publisher = publishers()
    await publisher.open()
    batch = [*records(topic, range(1, 3)), *records(topic, range(3, 4), size=2_000_000)]
    result = await publisher.publish(batch, carried=[])
    assert result.delivered == [1, 2]
    assert result.rejected[3].kind is RejectionKind.RECORD
    assert result.rejected[3].reason == "record_too_large"


async def test_a_record_the_broker_refuses_makes_its_group_suspect(
    publishers: Callable[[], TransactionalPublisher], config: KafkaConfig, kafka_bootstrap: str
) -> None:
    """The topic takes at most 4 KiB per batch: the producer sends a larger record anyway, the
    broker refuses the batch, and the transaction is aborted with that batch's records suspect."""
    small = f"small-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(small, 1, 1, topic_configs={"max.message.bytes": "4096"})]
        )
    finally:
        await admin.close()
    publisher = publishers()
    await publisher.open()
    batch = [*records(small, range(1, 3)), *records(small, range(3, 4), size=20_000)]
    result = await publisher.publish(batch, carried=[])
    assert result.delivered == []
    assert result.rejected[3].kind is RejectionKind.SUSPECT
    assert result.rejected[3].reason == "record_too_large"
    # Without it, the others go through; alone, it is refused again.
    assert (await publisher.publish(batch[:2], carried=[])).delivered == [1, 2]
    alone = await publisher.publish(batch[2:], carried=[])
    assert alone.delivered == []
    assert 3 in alone.rejected
    assert len(await read_committed(kafka_bootstrap, small, expect=2)) == 2


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
async def test_compressed_batches_are_read_back(
    codec: str, kafka_bootstrap: str, topic: str
) -> None:
    config = KafkaConfig.from_settings(
        Settings(
            KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
            KAFKA_COMPRESSION_TYPE=codec,
            INGEST_KAFKA_PROGRESS_TOPIC=f"progress-{uuid.uuid4().hex[:8]}",
        )
    )
    sink = KafkaSink(config)
    await sink.prepare(shards=1, instance=uuid.uuid4().hex[:16], holder="test")
    publisher = sink.publisher(0)
    try:
        await publisher.open()
        batch = [
            PendingRecord(id=i, topic=topic, key="k", value=json.dumps({"n": i}).encode() * 20)
            for i in range(1, 51)
        ]
        assert len((await publisher.publish(batch, carried=[])).delivered) == 50
    finally:
        await publisher.close()
    values = await read_committed(kafka_bootstrap, topic, expect=50)
    assert values == [record.value for record in batch]
