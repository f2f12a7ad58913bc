"""Progress markers: the record each Kafka transaction writes about itself.

Every relay transaction carries, besides its CloudEvents, one marker on the progress topic (keyed
by shard) naming the outbox ids the transaction holds plus those an earlier transaction committed
and the database has not yet been told about (`carried`). Kafka commits the marker atomically with
the events, so "the last committed marker of a shard" is exactly the set of records that may be in
Kafka without being marked published in the database. `docs/delivery.md` has the argument.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MARKER_VERSION = 1


def to_ranges(ids: Iterable[int]) -> list[list[int]]:
    """[1, 2, 3, 7, 9, 10] → [[1, 3], [7, 7], [9, 10]]: markers stay small for id runs."""
    ranges: list[list[int]] = []
    for value in sorted(set(ids)):
        if ranges and value == ranges[-1][1] + 1:
            ranges[-1][1] = value
        else:
            ranges.append([value, value])
    return ranges


def from_ranges(ranges: Iterable[Sequence[int]]) -> list[int]:
    ids: list[int] = []
    for start, end in ranges:
        if end < start or end - start > 10_000_000:
            raise ValueError("malformed id range in a progress marker")
        ids.extend(range(start, end + 1))
    return ids


@dataclass(frozen=True)
class Marker:
    shard: int
    ids: tuple[int, ...]
    holder: str
    written_at: str

    def to_bytes(self) -> bytes:
        document = {
            "v": MARKER_VERSION,
            "shard": self.shard,
            "ids": to_ranges(self.ids),
            "holder": self.holder,
            "at": self.written_at,
        }
        return json.dumps(document, separators=(",", ":")).encode()

    @classmethod
    def build(cls, shard: int, ids: Iterable[int], holder: str) -> Marker:
        now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        return cls(shard=shard, ids=tuple(sorted(set(ids))), holder=holder, written_at=now)

    @classmethod
    def parse(cls, raw: bytes) -> Marker:
        document: Any = json.loads(raw)
        if not isinstance(document, dict) or document.get("v") != MARKER_VERSION:
            raise ValueError("not a progress marker of this version")
        return cls(
            shard=int(document["shard"]),
            ids=tuple(from_ranges(document["ids"])),
            holder=str(document.get("holder", "")),
            written_at=str(document.get("at", "")),
        )
