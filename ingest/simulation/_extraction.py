"""Simulation shared by the configurable vendors (generic-hmac, basic-auth, header-token): a
generic event, and the id and type headers a sender configured with extraction options adds."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from ingest.handlers._extraction import ExtractingHandler, ExtractionOptions
from ingest.simulation import templates
from ingest.simulation.base import Simulator


def sample_headers(options: ExtractionOptions, event_type: str | None) -> dict[str, str]:
    """The id and type headers a sender configured that way would add."""
    headers: dict[str, str] = {}
    if options.id_header:
        headers[options.id_header] = str(uuid.uuid4())
    if options.type_header:
        headers[options.type_header] = event_type or ExtractingSimulator.sample_types[0]
    return headers


class ExtractingSimulator(Simulator[Any]):
    """A generic event (`samples/generic.json`): `id`, `type` and `data.id` are there so the
    JSON-path options have something to find; its types stand for the sender's own."""

    samples_file: ClassVar[str] = "generic"
    sample_types: ClassVar[tuple[str, ...]] = tuple(templates.samples("generic"))


__all__ = ["ExtractingHandler", "ExtractingSimulator", "sample_headers"]
