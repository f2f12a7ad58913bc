"""The relay: outbox → sink, in outbox order, surviving sink and database outages without loss.

Records stay in the outbox until the sink acknowledges them. While the sink is down the relay backs
off with full jitter and says so once per state change, not once per record. One relay holds the
lease at a time, so several `ingest serve` processes never interleave one key's records.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ingest.logs import get_logger
from ingest.sinks.base import Sink, SinkUnavailableError
from ingest.store import Store

log = get_logger("ingest.relay")

LEASE_NAME = "relay"


class RelayState(StrEnum):
    STARTING = "starting"
    STANDBY = "standby"
    HEALTHY = "healthy"
    SINK_DOWN = "sink_down"
    DATABASE_DOWN = "database_down"


@dataclass(frozen=True)
class Backoff:
    initial: float = 0.5
    maximum: float = 10.0

    def delay(self, failures: int) -> float:
        """Full jitter (AWS architecture blog): spreads reconnecting relays apart."""
        ceiling = min(self.maximum, self.initial * 2 ** max(failures - 1, 0))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography


class Relay:
    def __init__(
        self,
        store: Store,
        sink: Sink,
        *,
        batch_size: int = 500,
        idle_poll_seconds: float = 0.2,
        lease_ttl: timedelta = timedelta(seconds=15),
        backoff: Backoff | None = None,
        stall_seconds: float = 5.0,
    ) -> None:
        self.store = store
        self.sink = sink
        self.batch_size = batch_size
        self.idle_poll_seconds = idle_poll_seconds
        self.lease_ttl = lease_ttl
        self.backoff = backoff or Backoff()
        self.stall_seconds = stall_seconds
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.state = RelayState.STARTING
        self.published = 0
        self._wakeup = asyncio.Event()
        self._failures = 0
        self._sink_started = False

    def wake(self) -> None:
        """Called after a commit that added outbox rows: publish now, not at the next poll."""
        self._wakeup.set()

    def _enter(self, state: RelayState, **details: object) -> None:
        if state is self.state:
            return
        previous, self.state = self.state, state
        if state in (RelayState.SINK_DOWN, RelayState.DATABASE_DOWN):
            log.warning(
                f"relay.{state.value}", previous=previous.value, sink=self.sink.name, **details
            )
        else:
            log.info(
                f"relay.{state.value}", previous=previous.value, sink=self.sink.name, **details
            )

    async def _sleep(self, seconds: float, stop: asyncio.Event) -> None:
        """Sleep until the timeout, a wake-up, or stop, whichever comes first."""
        waiters = [asyncio.ensure_future(self._wakeup.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _ensure_sink(self) -> None:
        if not self._sink_started:
            await self.sink.start()
            self._sink_started = True

    async def _reset_sink(self) -> None:
        self._sink_started = False
        with contextlib.suppress(Exception):
            await self.sink.stop()

    async def publish_once(self) -> tuple[int, str | None]:
        """One batch: how many records the sink took, and the error that stopped it, if any."""
        await self._ensure_sink()
        batch = await self.store.pending(self.batch_size)
        if not batch:
            return 0, None
        publishing = asyncio.ensure_future(self.sink.publish(batch))
        try:
            done, _ = await asyncio.wait({publishing}, timeout=self.stall_seconds)
            if not done:
                # The producer holds these records and keeps retrying them itself; sending them
                # again from here could duplicate them, so we wait for its verdict instead.
                self._enter(RelayState.SINK_DOWN, error="the sink is not acknowledging records")
            result = await publishing
        finally:
            publishing.cancel()
        await self.store.mark_published(result.delivered)
        self.published += len(result.delivered)
        return len(result.delivered), result.error

    async def run(self, stop: asyncio.Event) -> None:
        lease_renewed_at = -1.0
        loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                try:
                    if loop.time() - lease_renewed_at > self.lease_ttl.total_seconds() / 3:
                        if not await self.store.acquire_lease(
                            LEASE_NAME, self.holder, self.lease_ttl
                        ):
                            self._enter(RelayState.STANDBY)
                            await self._sleep(self.lease_ttl.total_seconds() / 3, stop)
                            continue
                        lease_renewed_at = loop.time()
                    # Cleared before reading: a commit landing while we publish still wakes us.
                    self._wakeup.clear()
                    sent, error = await self.publish_once()
                except SinkUnavailableError as exc:
                    sent, error = 0, str(exc)
                except (DBAPIError, SQLAlchemyError, OSError) as exc:
                    self._failures += 1
                    lease_renewed_at = -1.0
                    self._enter(RelayState.DATABASE_DOWN, error=type(exc).__name__)
                    await self._sleep(self.backoff.delay(self._failures), stop)
                    continue
                if error is not None:
                    self._failures += 1
                    self._enter(RelayState.SINK_DOWN, error=error)
                    await self._reset_sink()
                    await self._sleep(self.backoff.delay(self._failures), stop)
                    continue
                if self.state is not RelayState.HEALTHY:
                    pending = await self.store.count_pending()
                    self._enter(RelayState.HEALTHY, pending=pending)
                self._failures = 0
                if sent < self.batch_size:
                    await self._sleep(self.idle_poll_seconds, stop)
        finally:
            await self._reset_sink()
            with contextlib.suppress(Exception):
                await self.store.release_lease(LEASE_NAME, self.holder)
