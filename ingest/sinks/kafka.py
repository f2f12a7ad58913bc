"""Kafka through aiokafka: idempotent producer, acks=all, CloudEvents structured mode.

Records of one key go to one partition in outbox order; the idempotent producer keeps its own
retries from duplicating or reordering them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError

from ingest.cloudevents import CONTENT_TYPE
from ingest.sinks.base import PublishResult, SinkUnavailableError
from ingest.store import PendingRecord

HEADERS = [("content-type", CONTENT_TYPE.encode())]
CHECK_TIMEOUT_SECONDS = 3.0


class KafkaSink:
    name = "kafka"

    def __init__(self, bootstrap_servers: str, *, request_timeout_ms: int = 15_000) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.request_timeout_ms = request_timeout_ms
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        if self._producer is not None:
            return
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            client_id="ingest-relay",
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            request_timeout_ms=self.request_timeout_ms,
            retry_backoff_ms=200,
        )
        try:
            await producer.start()
        except (KafkaError, OSError) as exc:
            await producer.stop()
            raise SinkUnavailableError(f"Kafka at {self.bootstrap_servers}: {exc}") from None
        self._producer = producer

    async def publish(self, records: Sequence[PendingRecord]) -> PublishResult:
        if self._producer is None:
            raise SinkUnavailableError("Kafka producer is not started")
        producer = self._producer
        pending: list[tuple[int, asyncio.Future[object]]] = []
        error: str | None = None
        for record in records:
            try:
                future = await producer.send(
                    record.topic, value=record.value, key=record.key.encode(), headers=HEADERS
                )
            except KafkaError as exc:
                error = f"{type(exc).__name__}: {exc}"
                break
            pending.append((record.id, future))
        delivered: list[int] = []
        for record_id, future in pending:
            try:
                await future
            except KafkaError as exc:
                error = error or f"{type(exc).__name__}: {exc}"
                continue
            delivered.append(record_id)
        return PublishResult(delivered=delivered, error=error)

    async def check(self) -> None:
        if self._producer is not None:
            client = self._producer.client
            try:
                await asyncio.wait_for(client.fetch_all_metadata(), CHECK_TIMEOUT_SECONDS)
            except (KafkaError, OSError, TimeoutError) as exc:
                raise SinkUnavailableError(
                    f"Kafka metadata request failed: {type(exc).__name__}"
                ) from None
            return
        client = AIOKafkaClient(bootstrap_servers=self.bootstrap_servers, request_timeout_ms=3000)
        try:
            await asyncio.wait_for(client.bootstrap(), CHECK_TIMEOUT_SECONDS)
        except (KafkaError, OSError, TimeoutError) as exc:
            raise SinkUnavailableError(f"Kafka unreachable: {type(exc).__name__}") from None
        finally:
            await client.close()

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            # Already broken; the relay is restarting it anyway.
            with contextlib.suppress(KafkaError, OSError):
                await producer.stop()
