"""Simulation shared by the configurable vendors (generic-hmac, basic-auth, header-token): a
generic event, and the id and type headers a sender configured with extraction options adds."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from ingest.handlers._extraction import ExtractingHandler, ExtractionOptions
from ingest.simulation.base import Simulator

SAMPLE_TYPES = ("example.created", "example.updated")
"""What the generic vendors' samples are typed as (their types come from the sender's config)."""


def sample(event_type: str | None) -> bytes:
    """A generic event for `ingest send`: `id`, `type` and `data.id` are there so the JSON-path
    options have something to find."""
    payload = {
        "id": f"evt_{secrets.token_hex(12)}",
        "type": event_type or SAMPLE_TYPES[0],
        "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "data": {"id": f"obj_{secrets.token_hex(8)}", "object": "example", "name": "Example"},
    }
    return json.dumps(payload, indent=2).encode()


def sample_headers(options: ExtractionOptions, event_type: str | None) -> dict[str, str]:
    """The id and type headers a sender configured that way would add."""
    headers: dict[str, str] = {}
    if options.id_header:
        headers[options.id_header] = str(uuid.uuid4())
    if options.type_header:
        headers[options.type_header] = event_type or SAMPLE_TYPES[0]
    return headers


class ExtractingSimulator(Simulator[Any]):
    sample_types: ClassVar[tuple[str, ...]] = SAMPLE_TYPES

    def sample(self, event_type: str | None) -> bytes:
        return sample(event_type)


__all__ = ["SAMPLE_TYPES", "ExtractingHandler", "ExtractingSimulator", "sample", "sample_headers"]
