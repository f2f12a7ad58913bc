"""One CloudEvent JSON per line in a local file: the zero-infrastructure sink behind `make run`.

At-least-once: a line is fsynced before its record is marked published, so a crash between the
two repeats the line on restart; consumers deduplicate on the CloudEvent `id`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

from ingest.outbox import PendingRecord
from ingest.sinks.base import Cause, Publisher, PublishResult, SinkUnavailableError


class FileSink:
    name = "file"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()
        """Shards share the file; whole batches are appended one at a time."""

    def publisher(self, shard: int) -> Publisher:
        return FilePublisher(self)

    async def prepare(self, *, shards: int, instance: str, holder: str) -> None:
        return None

    def _append(self, records: Sequence[PendingRecord]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as handle:
            handle.write(b"".join(record.value + b"\n" for record in records))
            handle.flush()
            os.fsync(handle.fileno())

    async def append(self, records: Sequence[PendingRecord]) -> None:
        async with self._lock:
            try:
                await asyncio.to_thread(self._append, records)
            except OSError as exc:
                raise SinkUnavailableError(
                    f"cannot append to {self.path}: {exc.strerror}", Cause.WRITE_FAILED
                ) from None


class FilePublisher:
    exactly_once = False

    def __init__(self, sink: FileSink) -> None:
        self.sink = sink

    async def open(self) -> list[int]:
        directory = self.sink.path.parent if str(self.sink.path.parent) else Path()
        if not os.access(directory if directory.exists() else Path(), os.W_OK):
            raise SinkUnavailableError(f"cannot write to {directory}", Cause.WRITE_FAILED)
        return []

    async def publish(
        self, records: Sequence[PendingRecord], carried: Sequence[int]
    ) -> PublishResult:
        await self.sink.append(records)
        return PublishResult(delivered=[record.id for record in records])

    async def close(self) -> None:
        return None
