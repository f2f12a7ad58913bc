"""The storage-object event S3, GCS and R2 notifications become: built, keyed and cleaned once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.handlers import _storage
from ingest.schemas import storage

WHEN = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "size"),
    [
        (1024, 1024),
        ("1024", 1024),  # GCS's JSON API writes int64 as a string
        (0, 0),
        (-1, None),
        (True, None),
        ("12.5", None),
        ("١٢", None),  # Unicode digits: str.isdigit admits them, a size does not
        (None, None),
        ([1], None),
    ],
)
def test_an_object_size_is_a_non_negative_count_of_bytes_or_none(
    raw: object, size: int | None
) -> None:
    assert _storage.object_size(raw) == size


def test_metadata_becomes_text_pairs_and_anything_else_none() -> None:
    assert _storage.object_metadata({"team": "billing", "rev": 3}) == {
        "team": "billing",
        "rev": "3",
    }
    assert _storage.object_metadata(["team"]) == {}
    assert _storage.object_metadata(None) == {}


def test_a_created_object_is_keyed_by_store_bucket_and_key() -> None:
    emitted = _storage.object_event(
        "r2",
        created=True,
        bucket="media",
        key="cats/1.jpg",
        action="PutObject",
        occurred_at=WHEN,
        size="2048",
        etag="",
        content_type="image/jpeg",
        item_id="r2:item",
    )
    assert isinstance(emitted.data, storage.StorageObjectCreated)
    assert emitted.type == "storage.object.created"
    assert (emitted.key, emitted.subject, emitted.item_id) == (
        "r2:media/cats/1.jpg",
        "cats/1.jpg",
        "r2:item",
    )
    assert emitted.time == WHEN
    # A blank etag is "none", not an etag a consumer could compare.
    assert (emitted.data.size, emitted.data.etag, emitted.data.content_type) == (
        2048,
        None,
        "image/jpeg",
    )


def test_a_deleted_object_is_its_own_type() -> None:
    emitted = _storage.object_event(
        "gcs",
        created=False,
        bucket="b",
        key="k",
        action="OBJECT_DELETE",
        occurred_at=WHEN,
        version="7",
    )
    assert isinstance(emitted.data, storage.StorageObjectDeleted)
    assert emitted.data.version == "7"
    assert emitted.data.metadata == {}
