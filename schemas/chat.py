"""Team chat (Slack…): messages, mentions, reactions.

CloudEvent types: `chat.message.posted`, `chat.message.edited`, `chat.message.deleted`,
`chat.app_mention`, `chat.reaction.added`, `chat.reaction.removed`. Events are keyed by
`<team>:<channel>` so that a channel's conversation stays in order.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from ingest.schemas.base import DomainModel


class ChatMessage(DomainModel):
    provider: str
    team_id: str | None = None
    channel: str
    user: str | None = None
    """Who wrote it; bot messages may have no user."""
    text: str = ""
    ts: str
    """The platform's id of the message within its channel (Slack's `ts`)."""
    thread_ts: str | None = None
    """The thread's parent message, for replies."""
    subtype: str | None = None
    occurred_at: datetime


class ChatMessagePosted(ChatMessage):
    event_type: ClassVar[str] = "chat.message.posted"


class ChatMessageEdited(ChatMessage):
    """`text` is the new text; `ts` still identifies the original message."""

    event_type: ClassVar[str] = "chat.message.edited"


class ChatAppMention(ChatMessage):
    """A message that mentions the app."""

    event_type: ClassVar[str] = "chat.app_mention"


class ChatMessageDeleted(DomainModel):
    event_type: ClassVar[str] = "chat.message.deleted"
    provider: str
    team_id: str | None = None
    channel: str
    ts: str
    """The deleted message's `ts`."""
    occurred_at: datetime


class ChatReaction(DomainModel):
    provider: str
    team_id: str | None = None
    channel: str | None = None
    """The channel of the message reacted to (reactions to files have none)."""
    user: str
    reaction: str
    """The emoji name, without colons."""
    item_ts: str | None = None
    """The message reacted to."""
    item_user: str | None = None
    occurred_at: datetime


class ChatReactionAdded(ChatReaction):
    event_type: ClassVar[str] = "chat.reaction.added"


class ChatReactionRemoved(ChatReaction):
    event_type: ClassVar[str] = "chat.reaction.removed"
