"""What a relay shard is doing, as logs, `/readyz` and metrics name it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class RelayState(StrEnum):
    STARTING = "starting"
    STANDBY = "standby"
    """This relay holds no shard (others hold them all)."""
    HEALTHY = "healthy"
    """Publishing, and the last batch went through."""
    IDLE = "idle"
    """Nothing to publish."""
    SINK_DOWN = "sink_down"
    DATABASE_DOWN = "database_down"
    STOPPED = "stopped"


DOWN_STATES = frozenset({RelayState.SINK_DOWN, RelayState.DATABASE_DOWN})

SEVERITY = {
    RelayState.DATABASE_DOWN: 5,
    RelayState.SINK_DOWN: 4,
    RelayState.STARTING: 3,
    RelayState.HEALTHY: 2,
    RelayState.IDLE: 1,
    RelayState.STANDBY: 0,
    RelayState.STOPPED: 0,
}
"""Which shard's state a relay reports as its own: the worst one."""


@dataclass
class ShardStatus:
    shard: int
    state: RelayState = RelayState.STARTING
    error: str | None = None
    cause: str | None = None
    progress_at: datetime | None = None
    published: int = 0
    parked: int = 0
    recovered: int = 0
    held_topics: dict[str, str] = field(default_factory=dict)
    """Topics the cluster says do not exist, with the reason, while they are held back."""
