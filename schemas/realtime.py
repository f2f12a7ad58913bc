"""Realtime channels and presence (Pusher, Ably…): who is on which channel.

CloudEvent types: `realtime.channel.occupied`, `realtime.channel.vacated`,
`realtime.presence.joined`, `realtime.presence.left`. Events are keyed by channel so that a
channel's occupied/vacated and join/leave sequence stays in order.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from ingest.schemas.base import DomainModel


class ChannelEvent(DomainModel):
    provider: str
    channel: str
    occurred_at: datetime


class ChannelOccupied(ChannelEvent):
    """The channel gained its first subscriber."""

    event_type: ClassVar[str] = "realtime.channel.occupied"


class ChannelVacated(ChannelEvent):
    """The channel lost its last subscriber."""

    event_type: ClassVar[str] = "realtime.channel.vacated"


class PresenceEvent(DomainModel):
    provider: str
    channel: str
    user_id: str
    """The member's id: Pusher's `user_id`, Ably's `clientId`."""
    connection_id: str | None = None
    """The connection that entered or left, where the provider reports it (Ably)."""
    occurred_at: datetime


class PresenceJoined(PresenceEvent):
    event_type: ClassVar[str] = "realtime.presence.joined"


class PresenceLeft(PresenceEvent):
    event_type: ClassVar[str] = "realtime.presence.left"
