"""Object storage changes, whichever store holds the bucket: one schema for S3, GCS and R2.

CloudEvent types: `storage.object.created` (a new object or a new version overwriting one) and
`storage.object.deleted`.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from ingest.schemas.base import DomainModel


class StorageObjectEvent(DomainModel):
    event_type: ClassVar[str]
    """Set by each concrete event: the CloudEvent type."""

    provider: str
    """Which store: `s3`, `gcs`, `r2`."""
    bucket: str
    key: str
    """The object's name, decoded (S3 sends keys URL-encoded; this is the real name)."""
    occurred_at: datetime
    action: str
    """The provider's own event name, unchanged (`ObjectCreated:Put`, `OBJECT_FINALIZE`,
    `CompleteMultipartUpload`…)."""
    size: int | None = None
    etag: str | None = None
    version: str | None = None
    """S3 `versionId`, GCS `generation`; None where the store does not version objects."""
    content_type: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)


class StorageObjectCreated(StorageObjectEvent):
    event_type: ClassVar[str] = "storage.object.created"


class StorageObjectDeleted(StorageObjectEvent):
    event_type: ClassVar[str] = "storage.object.deleted"
