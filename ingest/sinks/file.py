"""One CloudEvent JSON per line in a local file: the zero-infrastructure sink behind `make run`."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

from ingest.sinks.base import PublishResult, SinkUnavailableError
from ingest.store import PendingRecord


class FileSink:
    name = "file"

    def __init__(self, path: Path) -> None:
        self.path = path

    async def start(self) -> None:
        await self.check()

    def _append(self, records: Sequence[PendingRecord]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as handle:
            handle.write(b"".join(record.value + b"\n" for record in records))
            handle.flush()
            os.fsync(handle.fileno())

    async def publish(self, records: Sequence[PendingRecord]) -> PublishResult:
        try:
            await asyncio.to_thread(self._append, records)
        except OSError as exc:
            return PublishResult(
                delivered=[], error=f"cannot append to {self.path}: {exc.strerror}"
            )
        return PublishResult(delivered=[record.id for record in records])

    async def check(self) -> None:
        directory = self.path.parent if str(self.path.parent) else Path()
        if not os.access(directory if directory.exists() else Path(), os.W_OK):
            raise SinkUnavailableError(f"cannot write to {directory}")

    async def stop(self) -> None:
        return None
