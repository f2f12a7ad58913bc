"""Kafka through aiokafka: CloudEvents structured mode, keyed by entity, acks=all.

Two publishers, chosen by `INGEST_KAFKA_TRANSACTIONS`:

- `TransactionalPublisher` (default): each batch is one Kafka transaction that also writes a
  progress marker (`ingest.sinks.progress`). The transactional id is fixed per shard, so a new
  publisher fences every older one, and the last committed marker tells it which records are in
  Kafka already. read_committed consumers see every record exactly once.
- `IdempotentPublisher`: for clusters that forbid transactions. The idempotent producer keeps its
  own retries from duplicating or reordering; a relay crash between Kafka's acknowledgement and the
  database's mark republishes those records (at-least-once; consumers deduplicate on the id).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka import errors as kafka_errors
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from typing_extensions import override

from ingest.cloudevents import KAFKA_HEADERS, kafka_record_size
from ingest.logs import get_logger
from ingest.outbox import PendingRecord
from ingest.sinks.base import (
    Cause,
    PublishResult,
    Rejection,
    RejectionKind,
    SinkUnavailableError,
)
from ingest.sinks.kafka_client import (
    PERMANENT_RECORD_ERRORS,
    KafkaConfig,
    classify,
    close_producer,
    diagnose,
    rejection_reason,
)
from ingest.sinks.progress import Marker

log = get_logger("ingest.sinks.kafka")

HEADERS = KAFKA_HEADERS
TOPIC_CREATION_GRACE_SECONDS = 1.5
"""A broker that auto-creates topics answers the first metadata request before the topic has a
leader; this long we keep asking before calling a topic missing."""
RECOVERY_WINDOW = 64
PROGRESS_TOPIC_CONFIG = {
    "cleanup.policy": "compact",
    # Compaction keeps the last marker per shard; these keep the log small without waiting days.
    "segment.ms": str(10 * 60 * 1000),
    "min.cleanable.dirty.ratio": "0.1",
}


def record_size(record: PendingRecord) -> int:
    return kafka_record_size(record.key, record.value)


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def unavailable(exc: BaseException, what: str) -> SinkUnavailableError:
    cause = classify(exc)
    return SinkUnavailableError(f"{what}: {_message(exc)}", cause)


async def diagnosed(exc: BaseException, what: str, config: KafkaConfig) -> SinkUnavailableError:
    """Like `unavailable`, but a bare "unable to bootstrap" is looked into (see `diagnose`)."""
    error = unavailable(exc, what)
    if error.cause in {Cause.UNREACHABLE, Cause.OTHER}:
        diagnosis = await diagnose(config)
        if diagnosis is not None:
            cause, text = diagnosis
            error = SinkUnavailableError(f"{what}: Kafka at {text}", cause)
    return error


async def stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """`stop()` of a consumer without a group raises the CancelledError of aiokafka's own
    internal task when that task never got to run, and then skips closing its connections. That
    error is swallowed and the closing finished here; a cancellation of ours still propagates."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        with contextlib.suppress(Exception):
            await consumer._fetcher.close()  # private: stop() gave up before reaching these
        with contextlib.suppress(Exception):
            await consumer._client.close()


def marker_partition(key: bytes, partitions: int) -> int:
    return int.from_bytes(hashlib.blake2b(key, digest_size=4).digest(), "big") % partitions


class KafkaSink:
    name = "kafka"

    def __init__(self, config: KafkaConfig) -> None:
        self.config = config
        self.holder = ""
        self.instance = ""
        """The database's instance id: it names transactional ids and marker keys, so two
        deployments sharing a cluster (or test databases sharing a broker) never touch each
        other's transactions or markers."""

    async def prepare(self, *, shards: int, instance: str, holder: str) -> None:
        self.instance, self.holder = instance, holder
        if self.config.transactions:
            await self._ensure_progress_topic()

    async def _ensure_progress_topic(self) -> None:
        admin = AIOKafkaAdminClient(**self.config.client_options(), client_id=self.config.client_id)
        try:
            await asyncio.wait_for(admin.start(), self.config.delivery_timeout_seconds)
            existing = await admin.list_topics()
            if self.config.progress_topic in existing:
                return
            brokers = len(admin._client.cluster.brokers())  # no public accessor
            topic = NewTopic(
                self.config.progress_topic,
                num_partitions=1,
                replication_factor=min(3, max(brokers, 1)),
                topic_configs=PROGRESS_TOPIC_CONFIG,
            )
            try:
                await admin.create_topics([topic])
            except kafka_errors.TopicAlreadyExistsError:
                return
            log.info("relay.progress_topic_created", topic=self.config.progress_topic)
        except (kafka_errors.KafkaError, OSError, TimeoutError) as exc:
            raise await diagnosed(
                exc,
                f"cannot check or create the progress topic {self.config.progress_topic}",
                self.config,
            ) from None
        finally:
            with contextlib.suppress(Exception):
                await admin.close()

    def publisher(self, shard: int) -> TransactionalPublisher | IdempotentPublisher:
        if self.config.transactions:
            return TransactionalPublisher(self.config, shard, self.instance, self.holder)
        return IdempotentPublisher(self.config, shard)


class _KafkaPublisher:
    """What both publishers share: start, pre-checks, close."""

    def __init__(self, config: KafkaConfig, shard: int) -> None:
        self.config = config
        self.shard = shard
        self._producer: AIOKafkaProducer | None = None

    def _producer_options(self) -> dict[str, Any]:
        return self.config.producer_options()

    async def _start_producer(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(**self._producer_options())
        try:
            await asyncio.wait_for(producer.start(), self.config.delivery_timeout_seconds)
        except (kafka_errors.KafkaError, OSError, TimeoutError) as exc:
            await close_producer(producer)
            raise await diagnosed(exc, "starting the producer", self.config) from None
        except BaseException:
            await close_producer(producer)
            raise
        self._producer = producer
        return producer

    async def _restart(self) -> None:
        """A new producer after a refused batch. The refused batch used up sequence numbers
        the broker never saw; aiokafka does not reset them (the Java client bumps the epoch), so
        the next batch to that partition would fail with OutOfOrderSequenceNumber. A new producer
        gets a new epoch (and, with a transactional id, fences nothing but this old self)."""
        await self.close()
        await self._start_producer()

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise SinkUnavailableError("the Kafka producer is not started", Cause.OTHER)
        return self._producer

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await close_producer(producer)

    async def _topic_rejection(self, topic: str) -> Rejection | None:
        """None when the topic can be written; else why not. Raises if the cluster is down."""
        client = self.producer.client
        if client.cluster.partitions_for_topic(topic):
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TOPIC_CREATION_GRACE_SECONDS
        client.add_topic(topic)
        while True:
            if not await client.force_metadata_update():
                raise SinkUnavailableError(
                    f"Kafka at {self.config.bootstrap_servers} does not answer metadata requests",
                    Cause.UNREACHABLE,
                )
            if topic in client.cluster.unauthorized_topics:
                return Rejection(
                    RejectionKind.RECORD,
                    "topic_unauthorized",
                    f"not authorized to write to topic {topic!r}",
                )
            if client.cluster.partitions_for_topic(topic):
                return None
            if loop.time() >= deadline:
                return Rejection(
                    RejectionKind.TOPIC_MISSING,
                    "topic_missing",
                    f"topic {topic!r} does not exist on the cluster",
                )
            await asyncio.sleep(0.25)

    async def _precheck(
        self, records: Sequence[PendingRecord]
    ) -> tuple[list[PendingRecord], dict[int, Rejection]]:
        """Set aside records the cluster will certainly refuse, before sending anything."""
        rejected: dict[int, Rejection] = {}
        topics: dict[str, Rejection | None] = {}
        for topic in dict.fromkeys(record.topic for record in records):
            topics[topic] = await self._topic_rejection(topic)
        sendable: list[PendingRecord] = []
        for record in records:
            topic_problem = topics[record.topic]
            if topic_problem is not None:
                rejected[record.id] = topic_problem
                continue
            size = record_size(record)
            if size > self.config.max_request_size:
                rejected[record.id] = Rejection(
                    RejectionKind.RECORD,
                    "record_too_large",
                    f"the record is {size} bytes; KAFKA_MAX_REQUEST_SIZE is "
                    f"{self.config.max_request_size}",
                )
                continue
            sendable.append(record)
        return sendable, rejected

    async def _send(
        self, records: Iterable[PendingRecord], rejected: dict[int, Rejection]
    ) -> list[tuple[PendingRecord, asyncio.Future[Any]]]:
        sent: list[tuple[PendingRecord, asyncio.Future[Any]]] = []
        for record in records:
            try:
                future = await self.producer.send(
                    record.topic, value=record.value, key=record.key.encode(), headers=HEADERS
                )
            except PERMANENT_RECORD_ERRORS as exc:
                rejected[record.id] = Rejection(
                    RejectionKind.RECORD, rejection_reason(exc), _message(exc)
                )
                continue
            sent.append((record, future))
        return sent


def _suspects(
    sent: Sequence[tuple[PendingRecord, asyncio.Future[Any]]],
) -> tuple[dict[int, Rejection], BaseException | None]:
    """Records whose send failed for good, and the first transient failure, if any."""
    rejected: dict[int, Rejection] = {}
    transient: BaseException | None = None
    for record, future in sent:
        if not future.done() or future.cancelled():
            continue
        exc = future.exception()
        if exc is None:
            continue
        if isinstance(exc, PERMANENT_RECORD_ERRORS):
            rejected[record.id] = Rejection(
                RejectionKind.SUSPECT, rejection_reason(exc), _message(exc)
            )
        elif transient is None:
            transient = exc
    return rejected, transient


class TransactionalPublisher(_KafkaPublisher):
    exactly_once = True

    def __init__(self, config: KafkaConfig, shard: int, instance: str, holder: str) -> None:
        super().__init__(config, shard)
        if not instance:
            raise ValueError("a transactional publisher needs the database instance id")
        self.instance = instance
        self.holder = holder
        self.transactional_id = f"{config.transactional_id_prefix}-{instance}-{shard}"
        self.marker_key = f"{instance}:{shard}".encode()
        self._marker_partition = 0

    @override
    def _producer_options(self) -> dict[str, Any]:
        return {
            **super()._producer_options(),
            "transactional_id": self.transactional_id,
            # The broker aborts a transaction we lost track of after this long; ours give up
            # sooner (INGEST_KAFKA_DELIVERY_TIMEOUT_SECONDS) and start over by fencing.
            "transaction_timeout_ms": int(self.config.delivery_timeout_seconds * 2000),
        }

    async def open(self) -> list[int]:
        """Start the producer (InitProducerId fences every older holder of this transactional
        id and resolves its open transaction), then read the last committed marker."""
        producer = await self._start_producer()
        try:
            partitions = await producer.partitions_for(self.config.progress_topic)
            self._marker_partition = marker_partition(self.marker_key, len(partitions))
            marker = await asyncio.wait_for(
                self._last_marker(sorted(partitions)), self.config.delivery_timeout_seconds
            )
        except (kafka_errors.KafkaError, OSError, TimeoutError) as exc:
            await self.close()
            raise unavailable(exc, "reading the last progress marker") from None
        except BaseException:
            await self.close()
            raise
        return list(marker.ids) if marker else []

    async def _last_marker(self, partitions: Sequence[int]) -> Marker | None:
        """The newest committed marker of this shard, read back from the end of the log.

        Read with read_committed up to the high watermark taken *after* fencing: a marker of an
        aborted transaction is never seen, and one whose commit was resolved while we fenced is."""
        tps = [TopicPartition(self.config.progress_topic, p) for p in partitions]
        options = {**self.config.client_options(), "enable_auto_commit": False}
        probe = AIOKafkaConsumer(**options, isolation_level="read_uncommitted")
        await probe.start()
        try:
            high = await probe.end_offsets(tps)
            low = await probe.beginning_offsets(tps)
        finally:
            await stop_consumer(probe)
        reader = AIOKafkaConsumer(**options, isolation_level="read_committed")
        await reader.start()
        newest: Marker | None = None
        try:
            reader.assign(tps)
            for tp in tps:
                found = await self._scan_back(reader, tp, low[tp], high[tp])
                if found is not None and (newest is None or found.written_at > newest.written_at):
                    newest = found
        finally:
            await stop_consumer(reader)
        return newest

    async def _scan_back(
        self, reader: AIOKafkaConsumer, tp: TopicPartition, low: int, high: int
    ) -> Marker | None:
        window = RECOVERY_WINDOW
        while True:
            start = max(low, high - window)
            reader.seek(tp, start)
            last: Marker | None = None
            while await reader.position(tp) < high:
                batch = await reader.getmany(tp, timeout_ms=500)
                for message in batch.get(tp, []):
                    if message.offset < high and message.key == self.marker_key:
                        with contextlib.suppress(ValueError, KeyError, TypeError):
                            last = Marker.parse(message.value)
            if last is not None or start == low:
                return last
            window *= 8

    async def publish(
        self, records: Sequence[PendingRecord], carried: Sequence[int]
    ) -> PublishResult:
        producer = self.producer
        sendable, rejected = await self._precheck(records)
        if not sendable:
            return PublishResult(delivered=[], rejected=rejected)
        try:
            async with asyncio.timeout(self.config.delivery_timeout_seconds):
                await producer.begin_transaction()
                sent = await self._send(sendable, rejected)
                ids = [record.id for record, _ in sent]
                marker = Marker.build(self.shard, [*carried, *ids], self.holder)
                marker_sent = await producer.send(
                    self.config.progress_topic,
                    value=marker.to_bytes(),
                    key=self.marker_key,
                    partition=self._marker_partition,
                )
                waiting = [future for _, future in sent] + [marker_sent]
                await self._wait_all(waiting)
                suspects, transient = _suspects(sent)
                if marker_sent.exception() is not None:
                    transient = transient or marker_sent.exception()
                if transient is not None:
                    raise transient
                if suspects or not ids:
                    await producer.abort_transaction()
                    if suspects:
                        await self._restart()
                    return PublishResult(delivered=[], rejected={**rejected, **suspects})
                await producer.commit_transaction()
        except TimeoutError:
            raise SinkUnavailableError(
                f"Kafka did not acknowledge a transaction within "
                f"{self.config.delivery_timeout_seconds:g} s",
                Cause.TIMEOUT,
            ) from None
        except (kafka_errors.KafkaError, OSError) as exc:
            raise unavailable(exc, "publishing a transaction") from None
        return PublishResult(delivered=ids, rejected=rejected)

    async def _wait_all(self, futures: list[asyncio.Future[Any]]) -> None:
        """Every send's verdict, or the transaction's own failure (a partition it could not
        add), whichever comes first: a failed transaction leaves some sends unanswered."""
        txn_end = self.producer._txn_manager.wait_for_transaction_end()
        pending: set[asyncio.Future[Any]] = set(futures)
        while pending:
            done, pending = await asyncio.wait(
                pending | {txn_end}, return_when=asyncio.FIRST_COMPLETED
            )
            if txn_end in done:
                pending.discard(txn_end)
                exc = txn_end.exception()
                if exc is not None:
                    raise exc
            pending.discard(txn_end)


class IdempotentPublisher(_KafkaPublisher):
    exactly_once = False

    async def open(self) -> list[int]:
        await self._start_producer()
        return []

    async def publish(
        self, records: Sequence[PendingRecord], carried: Sequence[int]
    ) -> PublishResult:
        sendable, rejected = await self._precheck(records)
        try:
            sent = await self._send(sendable, rejected)
        except (kafka_errors.KafkaError, OSError) as exc:
            raise unavailable(exc, "sending records") from None
        # However long it takes: the producer holds these records and retries them itself, and
        # sending them again from here could duplicate them. The relay shows the wait as
        # `sink_down` after INGEST_RELAY_STALL_SECONDS.
        await asyncio.wait([future for _, future in sent]) if sent else None
        suspects, transient = _suspects(sent)
        delivered = [
            record.id
            for record, future in sent
            if future.done() and not future.cancelled() and future.exception() is None
        ]
        if transient is not None and not delivered:
            raise unavailable(transient, "publishing records")
        if suspects:
            await self._restart()
        return PublishResult(delivered=delivered, rejected={**rejected, **suspects})
