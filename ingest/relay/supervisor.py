"""Background loops that cannot die unnoticed.

`supervise` runs a loop body again after any exception, with capped, jittered backoff, logging
once per change of failure (not once per retry) and counting restarts in a metric. Only
cancellation or the stop event ends it. Every long-running task of the service (the relay and its
shard workers, the outbox listener, the retrier) runs under it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ingest import metrics
from ingest.logs import get_logger
from ingest.relay.backoff import Backoff

log = get_logger("ingest.supervisor")


async def sleep_or_stop(seconds: float, stop: asyncio.Event) -> bool:
    """Sleep `seconds` unless `stop` is set first; True if stopping."""
    if stop.is_set():
        return True
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(seconds, 0))
    except TimeoutError:
        return False
    return True


def describe(exc: BaseException) -> str:
    """A short description for logs and `/readyz`: the type and the first line of the message."""
    message = str(exc).strip()
    first_line = message.splitlines()[0][:300] if message else ""
    return f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__


@dataclass
class TaskHealth:
    """What `/readyz` and the metrics say about one supervised loop."""

    name: str
    running: bool = False
    restarts: int = 0
    last_error: str | None = None
    failing: bool = False
    consecutive_failures: int = 0

    def ok(self) -> None:
        """Called by the loop body when it made progress: the next crash starts a new episode."""
        if self.failing:
            log.info("task.recovered", task=self.name, restarts=self.restarts)
        self.failing = False
        self.consecutive_failures = 0


async def supervise(
    name: str,
    body: Callable[[], Awaitable[None]],
    stop: asyncio.Event,
    *,
    backoff: Backoff,
    health: TaskHealth | None = None,
    outage: Callable[[BaseException], bool] | None = None,
) -> None:
    """Run `body` until `stop` is set; an exception restarts it after a backoff sleep.

    A body that returns while `stop` is not set is restarted too (after the shortest backoff),
    so a loop that returns early by mistake cannot silently end the service's work either.
    Exceptions `outage` recognises (the database being away) are expected: logged once as a
    warning (`task.waiting`), not as a crash."""
    health = health or TaskHealth(name)
    while not stop.is_set():
        health.running = True
        try:
            await body()
        except asyncio.CancelledError:
            health.running = False
            raise
        except Exception as exc:  # noqa: BLE001 - the point of a supervisor: nothing escapes
            health.running = False
            health.restarts += 1
            health.consecutive_failures += 1
            metrics.TASK_RESTARTS.labels(task=name).inc()
            error = describe(exc)
            if not health.failing or error != health.last_error:
                if outage is not None and outage(exc):
                    log.warning("task.waiting", task=name, error=error, retrying=True)
                else:
                    log.error("task.crashed", task=name, error=error, restarting=True)
            health.last_error, health.failing = error, True
            if await sleep_or_stop(backoff.delay(health.consecutive_failures), stop):
                break
            continue
        health.running = False
        if await sleep_or_stop(backoff.initial, stop):
            break
    health.running = False
