"""The service's background work, started by `ingest serve` (unless `--no-relay`) and by
`ingest relay`: the relay, the LISTEN connection that wakes it, and the retrier. Each runs under a
supervisor, so none of them can die unnoticed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from datetime import timedelta

from ingest.dberrors import is_outage
from ingest.handlers.base import VendorHandler
from ingest.health import HealthPolicy
from ingest.relay import Backoff, Relay, RelayConfig
from ingest.relay.supervisor import TaskHealth, supervise
from ingest.relay.wakeups import listen
from ingest.retries import Retrier, RetryPolicy
from ingest.runtime import Database
from ingest.settings import Settings
from ingest.sinks import sink_from_settings
from ingest.sources import SourcesConfig

SHUTDOWN_SECONDS = 30.0


def relay_config(settings: Settings) -> RelayConfig:
    return RelayConfig(
        shards=settings.relay_shards,
        batch_size=settings.relay_batch_size,
        idle_poll_seconds=settings.relay_idle_poll_seconds,
        lease_ttl=timedelta(seconds=settings.relay_lease_seconds),
        stall_seconds=settings.relay_stall_seconds,
        missing_topic_seconds=settings.relay_missing_topic_seconds,
        backoff=Backoff(
            initial=min(0.5, settings.relay_backoff_max_seconds),
            maximum=settings.relay_backoff_max_seconds,
        ),
    )


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(max_attempts=settings.retry_max_attempts)


def health_policy(settings: Settings) -> HealthPolicy:
    return HealthPolicy(
        shards=settings.relay_shards,
        lease_ttl=timedelta(seconds=settings.relay_lease_seconds),
        stall_seconds=settings.relay_stall_seconds,
        sink="kafka" if settings.kafka_enabled else "file",
    )


class Background:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        config: SourcesConfig,
        handlers: Mapping[str, VendorHandler],
    ) -> None:
        self.settings = settings
        self.database = database
        self.relay = Relay(
            database.outbox,
            database.coordination,
            sink_from_settings(settings),
            relay_config(settings),
        )
        self.retrier = Retrier(
            database.store,
            config,
            handlers,
            policy=retry_policy(settings),
            max_record_bytes=settings.kafka_max_request_size,
        )
        self.listener = TaskHealth("outbox-listener")
        self.retries = TaskHealth("retrier")
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def tasks(self) -> list[TaskHealth]:
        return [self.relay.health, self.listener, self.retries]

    def wake(self) -> None:
        self.relay.wake()

    def start(self) -> None:
        backoff = self.relay.config.backoff
        stop = self._stop
        self._tasks.append(asyncio.create_task(self.relay.run(stop), name="relay"))
        self._tasks.append(
            asyncio.create_task(
                supervise(
                    "retrier",
                    lambda: self.retrier.run(stop),
                    stop,
                    backoff=backoff,
                    health=self.retries,
                    outage=is_outage,
                ),
                name="retrier",
            )
        )
        if not self.database.is_sqlite:
            url = self.settings.database_url
            self._tasks.append(
                asyncio.create_task(
                    supervise(
                        "outbox-listener",
                        lambda: listen(url, self.wake, stop),
                        stop,
                        backoff=backoff,
                        health=self.listener,
                        outage=is_outage,
                    ),
                    name="outbox-listener",
                )
            )

    async def stop(self) -> None:
        self._stop.set()
        if not self._tasks:
            return
        _, late = await asyncio.wait(self._tasks, timeout=SHUTDOWN_SECONDS)
        for task in late:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        self._tasks.clear()
