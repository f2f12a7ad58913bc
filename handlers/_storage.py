"""The event an object store's notification becomes, for the three stores we map (S3 through
SNS, GCS through Pub/Sub, R2 through a Worker): what each store writes differently is read by
its module; how the domain event is built from it, and how its loose values are cleaned, is
written once here.

A module starting with `_` is not a vendor: handler discovery skips it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ingest.handlers import base
from ingest.schemas import storage


def object_size(raw: Any) -> int | None:
    """Bytes as a store writes them: a JSON number (S3, R2) or a decimal string (GCS's JSON API
    writes int64 as strings, since JSON numbers lose precision past 2**53); None for anything
    else, a negative number or a boolean included."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if raw >= 0 else None
    if isinstance(raw, str) and raw.isascii() and raw.isdigit():
        return int(raw)
    return None


def object_metadata(raw: Any) -> dict[str, str]:
    """User metadata as text pairs: GCS allows only strings, but a forwarded payload may not."""
    if not isinstance(raw, dict):
        return {}
    return {str(name): str(value) for name, value in raw.items()}


def object_event(
    provider: str,
    *,
    created: bool,
    bucket: str,
    key: str,
    action: str,
    occurred_at: datetime,
    size: Any = None,
    etag: Any = None,
    version: str | None = None,
    content_type: Any = None,
    metadata: Any = None,
    item_id: str | None = None,
) -> base.Emitted:
    """`storage.object.created` or `.deleted`, keyed by the object (`s3:bucket/key`), so a
    consumer sees one object's changes in order on one partition."""
    model = storage.StorageObjectCreated if created else storage.StorageObjectDeleted
    data = model(
        provider=provider,
        bucket=bucket,
        key=key,
        occurred_at=occurred_at,
        action=action,
        size=object_size(size),
        etag=base.text_or_none(etag),
        version=version,
        content_type=base.text_or_none(content_type),
        metadata=object_metadata(metadata),
    )
    return base.Emitted(data=data, key=f"{provider}:{bucket}/{key}", subject=key, item_id=item_id)
