"""One relay shard: outbox → sink, in id order, one batch in the sink at a time.

The loop, for a shard this relay holds the lease of:

1. open the shard's publisher; an exactly-once publisher fences older holders and names the
   records its last committed transaction carried, which are marked published first;
2. read the shard's next pending records (no transaction held open) and publish them as one
   batch, carrying the ids that are committed in the sink but not yet marked in the database;
3. mark them published in the background while the next batch is read and published
   (pipelining: at most one marking in flight, so the carried set stays at most two batches);
4. a record the sink refuses for good is parked with its error and the rest go on; a topic the
   cluster does not have is held back, and parked if it stays missing.

Anything transient — the sink or the database going away — ends the round: the state changes
(logged once per change by the relay), the worker backs off with capped jitter, reopens the
publisher (fencing, recovery) and goes on. Wake-ups shorten idle waits, never backoff sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from ingest import metrics
from ingest.clock import utcnow
from ingest.logs import get_logger
from ingest.outbox import OutboxStore, PendingRecord
from ingest.relay.backoff import Backoff
from ingest.relay.states import RelayState, ShardStatus
from ingest.relay.supervisor import sleep_or_stop
from ingest.sinks.base import (
    Publisher,
    PublishResult,
    Rejection,
    RejectionKind,
    Sink,
    SinkUnavailableError,
)

log = get_logger("ingest.relay")

DATABASE_ERRORS = (SQLAlchemyError, OSError, TimeoutError)
TOPIC_RECHECK_SECONDS = 5.0


@dataclass(frozen=True)
class WorkerConfig:
    shards: int = 1
    batch_size: int = 500
    idle_poll_seconds: float = 1.0
    stall_seconds: float = 10.0
    missing_topic_seconds: float = 60.0
    backoff: Backoff = field(default_factory=Backoff)


def _settled(batch: Sequence[PendingRecord], result: PublishResult) -> bool:
    """Every record of the batch is published or parked (none is held back or left owed)."""
    settled = set(result.delivered) | {
        i for i, r in result.rejected.items() if r.kind is not RejectionKind.TOPIC_MISSING
    }
    return all(record.id in settled for record in batch)


class _Pipeline:
    """What one publishing round keeps between batches: the ids committed to the sink whose
    marking has not finished (`carried`), that marking, and the next batch being read ahead."""

    def __init__(self, outbox: OutboxStore) -> None:
        self.outbox = outbox
        self.carried: list[int] = []
        self._marking: asyncio.Task[None] | None = None
        self._ahead: asyncio.Task[list[PendingRecord]] | None = None

    async def mark(self, delivered: Sequence[int]) -> None:
        """Carry `delivered` until marked; at most one marking in flight."""
        self.carried.extend(delivered)
        await self.wait_marking()
        self._marking = asyncio.create_task(self._mark(list(self.carried)))

    async def _mark(self, ids: list[int]) -> None:
        await self.outbox.mark_published(ids)
        done = set(ids)
        self.carried[:] = [i for i in self.carried if i not in done]

    async def wait_marking(self) -> None:
        marking, self._marking = self._marking, None
        if marking is not None:
            await marking

    def read_ahead(self, reading: Coroutine[Any, Any, list[PendingRecord]]) -> None:
        self._ahead = asyncio.ensure_future(reading)

    async def take_ahead(self) -> list[PendingRecord] | None:
        ahead, self._ahead = self._ahead, None
        return None if ahead is None else await ahead

    async def drop_ahead(self) -> None:
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead.cancel()
            with contextlib.suppress(BaseException):
                await ahead

    async def close(self) -> None:
        await self.drop_ahead()
        # Let an under-way marking finish: its records are in the sink already.
        await self.wait_marking()


class ShardWorker:
    def __init__(
        self,
        shard: int,
        *,
        outbox: OutboxStore,
        sink: Sink,
        prepare: Callable[[], Awaitable[None]],
        config: WorkerConfig,
        holds_lease: Callable[[], bool],
        on_change: Callable[[ShardStatus], None],
    ) -> None:
        self.shard = shard
        self.outbox = outbox
        self.sink = sink
        self.prepare = prepare
        self.config = config
        self.holds_lease = holds_lease
        self.on_change = on_change
        self.status = ShardStatus(shard)
        self.wakeup = asyncio.Event()
        self._missing_since: dict[str, float] = {}
        self._held_until: dict[str, float] = {}

    # -- state ------------------------------------------------------------------------------

    def _enter(self, state: RelayState, error: str | None = None, cause: str | None = None) -> None:
        changed = (state, error) != (self.status.state, self.status.error)
        self.status.state, self.status.error, self.status.cause = state, error, cause
        if changed:
            self.on_change(self.status)

    def _progress(self) -> None:
        self.status.progress_at = utcnow()

    def wake(self) -> None:
        self.wakeup.set()

    # -- the loop ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` or until the lease is no longer ours; never raises for outages."""
        failures = 0
        while not stop.is_set() and self.holds_lease():
            publisher: Publisher | None = None
            try:
                await self.prepare()
                publisher = self.sink.publisher(self.shard)
                recovered = await publisher.open()
                if recovered:
                    marked = await self.outbox.mark_published(recovered)
                    self.status.recovered += marked
                    log.info(
                        "relay.recovered",
                        shard=self.shard,
                        carried=len(recovered),
                        newly_marked=marked,
                    )
                await self._publish_until_stopped(publisher, stop)
                failures = 0
            except SinkUnavailableError as exc:
                failures = 1 if self.status.state is not RelayState.SINK_DOWN else failures + 1
                metrics.KAFKA_ERRORS.labels(reason=exc.cause.value).inc()
                self._enter(RelayState.SINK_DOWN, exc.message, exc.cause.value)
            except DATABASE_ERRORS as exc:
                failures = 1 if self.status.state is not RelayState.DATABASE_DOWN else failures + 1
                self._enter(RelayState.DATABASE_DOWN, type(exc).__name__, "database")
            finally:
                if publisher is not None:
                    await publisher.close()
            if failures and await sleep_or_stop(self.config.backoff.delay(failures), stop):
                break
        if stop.is_set():
            self._enter(RelayState.STOPPED)
        # Otherwise the lease could not be renewed in time (the database is away): the state it
        # had (database_down, most likely) stays, and the supervisor starts the loop again.

    async def _read(self, exclude: Sequence[int]) -> list[PendingRecord]:
        return await self.outbox.pending(
            shard=self.shard,
            shards=self.config.shards,
            limit=self.config.batch_size,
            exclude=exclude,
            held_topics=self._held_topics(),
        )

    async def _publish_until_stopped(self, publisher: Publisher, stop: asyncio.Event) -> None:
        pipeline = _Pipeline(self.outbox)
        try:
            while not stop.is_set() and self.holds_lease():
                batch = await pipeline.take_ahead()
                if batch is None:
                    self.wakeup.clear()  # before reading: a commit landing meanwhile wakes us
                    batch = await self._read(tuple(pipeline.carried))
                if not batch:
                    await pipeline.wait_marking()
                    self._progress()
                    self._enter(RelayState.IDLE)
                    await self._idle(stop)
                    continue
                # Read the next batch while the sink acknowledges this one; the records in
                # flight are excluded like the carried ones.
                self.wakeup.clear()
                pipeline.read_ahead(self._read((*pipeline.carried, *(r.id for r in batch))))
                result = await self._publish_isolating(publisher, batch, pipeline.carried, stop)
                if result is None:  # stopping
                    break
                if result.delivered:
                    self._count(batch, result.delivered)
                    await pipeline.mark(result.delivered)
                await self._handle_rejections(batch, result.rejected)
                if not _settled(batch, result):
                    # Some records are still owed (held back, or a transient failure): the batch
                    # read ahead could hold later records of their keys, so read again instead.
                    await pipeline.drop_ahead()
                self._progress()
                self._enter(RelayState.HEALTHY)
        finally:
            await pipeline.close()

    async def _idle(self, stop: asyncio.Event) -> None:
        waiters = [asyncio.ensure_future(self.wakeup.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(
                waiters, timeout=self.config.idle_poll_seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()

    def _count(self, batch: Sequence[PendingRecord], delivered: Sequence[int]) -> None:
        now = utcnow()
        ids = set(delivered)
        for record in batch:
            if record.id in ids:
                metrics.PUBLISHED.labels(topic=record.topic).inc()
                if record.created_at is not None:
                    metrics.PUBLISH_LATENCY.observe(
                        max((now - record.created_at).total_seconds(), 0)
                    )
                self._missing_since.pop(record.topic, None)
        self.status.published += len(ids)
        metrics.TRANSACTIONS.labels(result="committed").inc()

    # -- publishing with poison isolation ---------------------------------------------------

    async def _call(
        self,
        publisher: Publisher,
        records: Sequence[PendingRecord],
        carried: Sequence[int],
        stop: asyncio.Event,
    ) -> PublishResult | None:
        """One publish, with the wait made visible: past `stall_seconds` the shard reports
        `sink_down` while the sink still holds the records (it is never asked to send them
        twice). None if stopping while waiting."""
        publishing = asyncio.ensure_future(publisher.publish(records, carried))
        stopping = asyncio.ensure_future(stop.wait())
        try:
            done, _ = await asyncio.wait(
                {publishing, stopping},
                timeout=self.config.stall_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not done:
                self._enter(
                    RelayState.SINK_DOWN,
                    f"the sink has not acknowledged {len(records)} records for "
                    f"{self.config.stall_seconds:g} s",
                    "timeout",
                )
                done, _ = await asyncio.wait(
                    {publishing, stopping}, return_when=asyncio.FIRST_COMPLETED
                )
            if publishing in done:
                return publishing.result()
            return None
        finally:
            stopping.cancel()
            if not publishing.done():
                publishing.cancel()
                with contextlib.suppress(BaseException):
                    await publishing

    async def _publish_isolating(
        self,
        publisher: Publisher,
        batch: Sequence[PendingRecord],
        carried: Sequence[int],
        stop: asyncio.Event,
    ) -> PublishResult | None:
        """Publish `batch`; when the sink refuses part of it, publish the rest without the
        refused records, then try each refused one alone, so exactly the records the sink will
        never take are parked and nothing else waits behind them."""
        delivered: list[int] = []
        final: dict[int, Rejection] = {}
        suspects: list[PendingRecord] = []
        queue = list(batch)
        while queue:
            result = await self._call(publisher, queue, [*carried, *delivered], stop)
            if result is None:
                return None
            delivered.extend(result.delivered)
            settled = set(result.delivered)
            for record in queue:
                rejection = result.rejected.get(record.id)
                if rejection is None:
                    continue
                settled.add(record.id)
                if rejection.kind is RejectionKind.SUSPECT:
                    suspects.append(record)
                else:
                    final[record.id] = rejection
            if not settled:
                break  # a transient failure took nothing: the next round tries again
            queue = [record for record in queue if record.id not in settled]
        for record in suspects:
            alone = await self._call(publisher, [record], [*carried, *delivered], stop)
            if alone is None:
                return None
            delivered.extend(alone.delivered)
            if record.id in alone.rejected:
                rejection = alone.rejected[record.id]
                final[record.id] = Rejection(
                    RejectionKind.RECORD, rejection.reason, rejection.message
                )
        return PublishResult(delivered=delivered, rejected=final)

    # -- parked records and missing topics ----------------------------------------------------

    def _held_topics(self) -> list[str]:
        loop_time = asyncio.get_running_loop().time()
        for topic, until in list(self._held_until.items()):
            if until <= loop_time:
                del self._held_until[topic]
                self.status.held_topics.pop(topic, None)
        return list(self._held_until)

    async def _handle_rejections(
        self, batch: Sequence[PendingRecord], rejected: dict[int, Rejection]
    ) -> None:
        if not rejected:
            return
        loop_time = asyncio.get_running_loop().time()
        to_park: dict[int, str] = {}
        by_id = {record.id: record for record in batch}
        for record_id, rejection in rejected.items():
            record = by_id[record_id]
            if rejection.kind is RejectionKind.TOPIC_MISSING:
                since = self._missing_since.setdefault(record.topic, loop_time)
                if loop_time - since < self.config.missing_topic_seconds:
                    if record.topic not in self._held_until:
                        log.warning(
                            "relay.topic_missing",
                            shard=self.shard,
                            topic=record.topic,
                            parks_after_seconds=self.config.missing_topic_seconds,
                        )
                    self._held_until[record.topic] = loop_time + TOPIC_RECHECK_SECONDS
                    self.status.held_topics[record.topic] = rejection.message
                    continue
            to_park[record_id] = f"{rejection.reason}: {rejection.message}"
            metrics.PARKED.labels(reason=rejection.reason).inc()
            metrics.KAFKA_ERRORS.labels(
                reason="topic_missing"
                if rejection.kind is RejectionKind.TOPIC_MISSING
                else "record_rejected"
            ).inc()
        if to_park:
            await self.outbox.park(to_park)
            self.status.parked += len(to_park)
            for record_id, error in to_park.items():
                log.warning(
                    "relay.record_parked",
                    shard=self.shard,
                    outbox_id=record_id,
                    topic=by_id[record_id].topic,
                    error=error,
                    hint="ingest outbox retry",
                )
