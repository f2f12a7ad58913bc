"""The relay: shares the outbox's shards with the other relays and runs a worker for each of its.

Every `lease_ttl / 3` the relay renews its member lease, counts the live members and keeps its
fair share of shards (`ceil(shards / members)`): it renews the shard leases it holds, gives up
extras (after their worker stops) and takes free or expired ones. A relay that dies stops
renewing; its shards' leases expire and the others take them over within `lease_ttl` plus one
renewal period. A worker publishes only while its lease is known to be valid, and with Kafka
transactions a new holder fences the old one anyway.

Everything runs under `supervise`: an unexpected exception is logged once and the loop goes on.
The relay's state (the worst of its shards) is logged once per change, and each shard's state is
written to the database with every renewal, so any process can report it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from ingest.logs import get_logger
from ingest.outbox import OutboxStore
from ingest.relay.backoff import Backoff
from ingest.relay.coordination import MEMBER_PREFIX, Coordination, shard_lease
from ingest.relay.states import DOWN_STATES, SEVERITY, RelayState, ShardStatus
from ingest.relay.supervisor import TaskHealth, sleep_or_stop, supervise
from ingest.relay.worker import DATABASE_ERRORS, ShardWorker, WorkerConfig
from ingest.sinks.base import Sink

log = get_logger("ingest.relay")

LEASE_SAFETY = 0.8
"""A worker stops starting batches once 80 % of its lease has passed without a renewal."""


@dataclass(frozen=True)
class RelayConfig:
    shards: int = 1
    batch_size: int = 500
    idle_poll_seconds: float = 1.0
    lease_ttl: timedelta = timedelta(seconds=15)
    stall_seconds: float = 10.0
    missing_topic_seconds: float = 60.0
    backoff: Backoff = field(default_factory=Backoff)

    def worker(self) -> WorkerConfig:
        return WorkerConfig(
            shards=self.shards,
            batch_size=self.batch_size,
            idle_poll_seconds=self.idle_poll_seconds,
            stall_seconds=self.stall_seconds,
            missing_topic_seconds=self.missing_topic_seconds,
            backoff=self.backoff,
        )


@dataclass
class _Running:
    worker: ShardWorker
    stop: asyncio.Event
    task: asyncio.Task[None]
    lease_valid_until: float


class Relay:
    def __init__(
        self,
        outbox: OutboxStore,
        coordination: Coordination,
        sink: Sink,
        config: RelayConfig | None = None,
    ) -> None:
        self.outbox = outbox
        self.coordination = coordination
        self.sink = sink
        self.config = config or RelayConfig()
        self.member_id = uuid.uuid4().hex[:16]
        self.holder = f"{socket.gethostname()[:80]}:{os.getpid()}:{self.member_id}"
        self.health = TaskHealth("relay")
        self.state = RelayState.STARTING
        self.error: str | None = None
        self.cause: str | None = None
        self._running: dict[int, _Running] = {}
        self._instance: str | None = None
        self._prepared = False
        self._prepare_lock = asyncio.Lock()
        self._statuses: dict[int, ShardStatus] = {}

    # -- what others see ----------------------------------------------------------------------

    @property
    def owned_shards(self) -> list[int]:
        return sorted(self._running)

    @property
    def published(self) -> int:
        return sum(status.published for status in self._statuses.values())

    def shard_statuses(self) -> list[ShardStatus]:
        return [self._statuses[shard] for shard in sorted(self._statuses)]

    def wake(self) -> None:
        """A commit added outbox records: idle workers publish now, not at their next poll."""
        for running in self._running.values():
            running.worker.wake()

    def _refresh_state(self) -> None:
        statuses = [r.worker.status for r in self._running.values()]
        if statuses:
            worst = max(statuses, key=lambda s: SEVERITY[s.state])
            state, error, cause = worst.state, worst.error, worst.cause
        else:
            state, error, cause = RelayState.STANDBY, None, None
        self._set_state(state, error, cause)

    def _set_state(self, state: RelayState, error: str | None, cause: str | None) -> None:
        previous = self.state
        quiet = {RelayState.HEALTHY, RelayState.IDLE}
        self.state, self.error, self.cause = state, error, cause
        # healthy ↔ idle flips with every batch; only a change of kind is news.
        if state == previous or (state in quiet and previous in quiet):
            return
        name = "healthy" if state in quiet else state.value
        fields = {"previous": previous.value, "sink": self.sink.name, "shards": self.owned_shards}
        if state in DOWN_STATES:
            log.warning(f"relay.{name}", error=error, cause=cause, **fields)
        else:
            log.info(f"relay.{name}", **fields)

    # -- running --------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await supervise(
                "relay",
                lambda: self._coordinate(stop),
                stop,
                backoff=self.config.backoff,
                health=self.health,
            )
        finally:
            await self._shutdown()

    async def _prepare_sink(self) -> None:
        async with self._prepare_lock:
            if self._prepared:
                return
            if self._instance is None:
                self._instance = await self.coordination.instance_id()
            await self.sink.prepare(
                shards=self.config.shards, instance=self._instance, holder=self.holder
            )
            self._prepared = True

    async def _coordinate(self, stop: asyncio.Event) -> None:
        period = self.config.lease_ttl.total_seconds() / 3
        failures = 0
        while not stop.is_set():
            try:
                await self._rebalance(stop)
                await self._heartbeat()
                failures = 0
                self.health.ok()
            except DATABASE_ERRORS as exc:
                failures += 1
                if not self._running:
                    self._set_state(RelayState.DATABASE_DOWN, type(exc).__name__, "database")
                if await sleep_or_stop(min(self.config.backoff.delay(failures), period), stop):
                    return
                continue
            self._reap()
            self._refresh_state()
            if await sleep_or_stop(period, stop):
                return

    async def _rebalance(self, stop: asyncio.Event) -> None:
        ttl = self.config.lease_ttl
        loop = asyncio.get_running_loop()
        renewed_at = loop.time()
        await self.coordination.acquire(f"{MEMBER_PREFIX}{self.member_id}", self.holder, ttl)
        members = max(await self.coordination.live_members(), 1)
        share = math.ceil(self.config.shards / members)
        valid_until = renewed_at + ttl.total_seconds() * LEASE_SAFETY
        for shard in list(self._running):
            if await self.coordination.acquire(shard_lease(shard), self.holder, ttl):
                self._running[shard].lease_valid_until = valid_until
            else:
                log.warning("relay.lease_lost", shard=shard)
                await self._stop_worker(shard, release=False)
        for shard in sorted(self._running, reverse=True)[: max(len(self._running) - share, 0)]:
            await self._stop_worker(shard, release=True)
        if len(self._running) >= share:
            return
        holders = await self.coordination.shard_holders()
        start = int(self.member_id, 16) % self.config.shards
        for offset in range(self.config.shards):
            if len(self._running) >= share:
                break
            shard = (start + offset) % self.config.shards
            if shard in self._running or shard in holders:
                continue
            if await self.coordination.acquire(shard_lease(shard), self.holder, ttl):
                self._start_worker(shard, valid_until, stop)

    async def _heartbeat(self) -> None:
        for shard, running in self._running.items():
            status = running.worker.status
            await self.coordination.write_shard_state(
                shard, self.holder, status.state.value, status.error, status.progress_at
            )

    def _start_worker(self, shard: int, valid_until: float, stop: asyncio.Event) -> None:
        worker_stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def holds_lease() -> bool:
            running = self._running.get(shard)
            return running is not None and loop.time() < running.lease_valid_until

        worker = ShardWorker(
            shard,
            outbox=self.outbox,
            sink=self.sink,
            prepare=self._prepare_sink,
            config=self.config.worker(),
            holds_lease=holds_lease,
            on_change=self._on_shard_change,
        )
        self._statuses[shard] = worker.status
        both = _either(stop, worker_stop)

        async def body() -> None:
            await worker.run(both)

        async def supervised() -> None:
            try:
                await supervise(f"relay-shard-{shard}", body, both, backoff=self.config.backoff)
            finally:
                both.cleanup()

        task = asyncio.create_task(supervised(), name=f"relay-shard-{shard}")
        self._running[shard] = _Running(worker, worker_stop, task, valid_until)
        log.info("relay.shard_acquired", shard=shard, holder=self.holder)

    def _on_shard_change(self, status: ShardStatus) -> None:
        self._refresh_state()
        if status.state in DOWN_STATES or status.state is RelayState.HEALTHY:
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().create_task(self._write_state_quietly(status))

    async def _write_state_quietly(self, status: ShardStatus) -> None:
        with contextlib.suppress(*DATABASE_ERRORS):
            await self.coordination.write_shard_state(
                status.shard, self.holder, status.state.value, status.error, status.progress_at
            )

    def _reap(self) -> None:
        """Workers that ended on their own (their lease ran out): forget them."""
        for shard, running in list(self._running.items()):
            if running.task.done():
                del self._running[shard]

    async def _stop_worker(self, shard: int, *, release: bool) -> None:
        running = self._running.pop(shard, None)
        if running is None:
            return
        running.stop.set()
        await _finish(running.task)
        if release:
            with contextlib.suppress(*DATABASE_ERRORS):
                await self.coordination.release(shard_lease(shard), self.holder)
        log.info("relay.shard_released", shard=shard, released=release)

    async def _shutdown(self) -> None:
        """All workers at once: each may need a few seconds to close a producer it cannot reach."""
        await asyncio.gather(
            *(self._stop_worker(shard, release=True) for shard in list(self._running))
        )
        with contextlib.suppress(*DATABASE_ERRORS):
            await self.coordination.release(f"{MEMBER_PREFIX}{self.member_id}", self.holder)
        self._set_state(RelayState.STOPPED, None, None)


WORKER_STOP_SECONDS = 60.0


async def _finish(task: asyncio.Task[None]) -> None:
    """Wait for a worker to finish its batch; cancel it if that takes too long."""
    done, _ = await asyncio.wait({task}, timeout=WORKER_STOP_SECONDS)
    if not done:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


class _EitherEvent(asyncio.Event):
    """Set when either of two events is; `cleanup` stops watching them."""

    def __init__(self, first: asyncio.Event, second: asyncio.Event) -> None:
        super().__init__()
        self._watchers = [
            asyncio.ensure_future(self._follow(first)),
            asyncio.ensure_future(self._follow(second)),
        ]

    async def _follow(self, event: asyncio.Event) -> None:
        await event.wait()
        self.set()

    def cleanup(self) -> None:
        for watcher in self._watchers:
            watcher.cancel()


def _either(first: asyncio.Event, second: asyncio.Event) -> _EitherEvent:
    return _EitherEvent(first, second)
