"""Version control events. CloudEvent types: `vcs.push`, `vcs.pull_request.<action>`."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from ingest.schemas.base import DomainModel


class VcsCommit(DomainModel):
    id: str
    message: str
    author_name: str | None = None
    author_email: str | None = None
    url: str | None = None
    timestamp: datetime | None = None


class VcsPush(DomainModel):
    event_type: ClassVar[str] = "vcs.push"
    provider: str
    repository: str
    """`owner/name`."""
    ref: str
    before: str
    after: str
    created: bool = False
    deleted: bool = False
    forced: bool = False
    pusher: str | None = None
    commits: list[VcsCommit] = Field(default_factory=list)


class VcsPullRequest(DomainModel):
    """`action` is the provider's verb (`opened`, `closed`, `synchronize`…).

    `merged` tells a merge from a close without merging."""

    provider: str
    repository: str
    number: int
    action: str
    title: str
    state: str
    merged: bool = False
    author: str | None = None
    url: str | None = None
    head_ref: str | None = None
    head_sha: str | None = None
    base_ref: str | None = None
    updated_at: datetime | None = None
