"""What `/readyz` and `/metrics` report: readiness to accept webhooks, and the delivery's state.

Readiness is about this process taking webhooks, which needs the database only: while Kafka is
down the outbox fills and drains later, which is what it is for, so a Kafka outage must not take
every pod out of a load balancer. Kafka's and the relays' state are reported in the body (and in
metrics) instead, read from what the relays write to the database, so every process — whether it
runs a relay or not — gives the same answer.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from ingest import metrics
from ingest.outbox import OutboxStore, OutboxTotals
from ingest.relay import Relay
from ingest.relay.coordination import Coordination, ShardState
from ingest.relay.supervisor import TaskHealth

PROBE_TIMEOUT_SECONDS = 3.0
DATABASE_ERRORS = (SQLAlchemyError, OSError, TimeoutError)


@dataclass(frozen=True)
class Delivery:
    """The outbox and the relays, as read from the database at one moment."""

    totals: OutboxTotals
    shards: list[ShardState]
    unresolved: dict[str, int]
    now: datetime


def _age(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else round(max((now - moment).total_seconds(), 0.0), 3)


async def read_delivery(outbox: OutboxStore, coordination: Coordination, shards: int) -> Delivery:
    async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
        totals = await outbox.totals(shards)
        states = await coordination.shard_states()
        unresolved = await outbox.unresolved_events()
    return Delivery(totals, states, unresolved, datetime.now(UTC))


@dataclass(frozen=True)
class HealthPolicy:
    shards: int
    lease_ttl: timedelta
    stall_seconds: float
    sink: str
    """`kafka` or `file`."""


def describe_delivery(delivery: Delivery, policy: HealthPolicy) -> dict[str, Any]:
    now = delivery.now
    shards: list[dict[str, Any]] = []
    stalled: list[int] = []
    known = {state.shard: state for state in delivery.shards if state.shard < policy.shards}
    for shard in range(policy.shards):
        backlog = delivery.totals.by_shard.get(shard)
        pending = backlog.pending if backlog else 0
        oldest_age = _age(backlog.oldest_pending_at if backlog else None, now)
        state = known.get(shard)
        live = state is not None and state.live(policy.lease_ttl, now)
        progress_age = _age(state.progress_at, now) if state else None
        # Not making progress: records have waited longer than the stall limit, and the shard
        # has no live relay or has not moved for that long either.
        is_stalled = (
            pending > 0
            and (oldest_age or 0) > policy.stall_seconds
            and (not live or progress_age is None or progress_age > policy.stall_seconds)
        )
        if is_stalled:
            stalled.append(shard)
        shards.append(
            {
                "shard": shard,
                "state": (state.state if live else "dead") if state else "unassigned",
                "holder": state.holder if state and live else None,
                "error": state.error if state and live else None,
                "pending": pending,
                "oldest_pending_age_seconds": oldest_age,
                "progress_age_seconds": progress_age,
                "stalled": is_stalled,
            }
        )
    live_states = [s for s in shards if s["holder"] is not None]
    down = [s for s in live_states if s["state"] == "sink_down"]
    if down:
        sink_state: dict[str, Any] = {"state": "down", "error": down[0]["error"]}
    elif any(s["state"] in {"healthy", "idle"} for s in live_states):
        sink_state = {"state": "connected"}
    else:
        sink_state = {"state": "unknown"}
    if stalled:
        relay_state = "stalled"
    elif not live_states:
        relay_state = "not_running"
    elif down:
        relay_state = "sink_down"
    else:
        relay_state = "running"
    oldest = delivery.totals.oldest_pending_at
    return {
        policy.sink: sink_state,
        "relay": {"state": relay_state, "stalled_shards": stalled, "shards": shards},
        "outbox": {
            "pending": delivery.totals.pending,
            "oldest_pending_age_seconds": _age(oldest, now) or 0.0,
            "parked": delivery.totals.parked,
        },
        "events": delivery.unresolved,
    }


def local_report(relay: Relay | None, tasks: list[TaskHealth]) -> dict[str, Any]:
    """What this process's own relay is doing: shown even when the database is unreachable."""
    report: dict[str, Any] = {
        "tasks": {
            t.name: {"running": t.running, "restarts": t.restarts, "last_error": t.last_error}
            for t in tasks
        }
    }
    if relay is not None:
        report["relay"] = {
            "state": relay.state.value,
            "error": relay.error,
            "cause": relay.cause,
            "shards": relay.owned_shards,
            "published": relay.published,
        }
    return report


def snapshot(delivery: Delivery | None, policy: HealthPolicy) -> metrics.StoreSnapshot | None:
    if delivery is None:
        return None
    now = delivery.now
    oldest = delivery.totals.oldest_pending_at
    return metrics.StoreSnapshot(
        pending=delivery.totals.pending,
        oldest_pending_age_seconds=_age(oldest, now) or 0.0,
        parked=delivery.totals.parked,
        retrying_events=delivery.unresolved.get("retrying", 0),
        failed_events=delivery.unresolved.get("failed", 0),
        shards=tuple(
            metrics.ShardGauge(
                shard=state.shard,
                holder=state.holder,
                state=state.state,
                heartbeat_age_seconds=_age(state.updated_at, now) or 0.0,
                progress_age_seconds=_age(state.progress_at, now),
                live=state.live(policy.lease_ttl, now),
            )
            for state in delivery.shards
            if state.shard < policy.shards
        ),
    )
