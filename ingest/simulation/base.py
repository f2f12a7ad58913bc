"""What a vendor's simulator is: it makes the requests the vendor would send (a realistic body
with fresh ids, signed with the vendor's scheme), for `ingest send`, the benchmarks and the tests.

Kept apart from `ingest.handlers`, which only verifies and maps what arrives: a reader of a
vendor's handler sees no sample data, and the service never imports a simulator to receive.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from typing_extensions import override

from ingest.errors import ConfigError
from ingest.handlers.base import VendorHandler
from ingest.simulation import templates
from ingest.sources import SourceConfig


@dataclass(frozen=True)
class SigningContext:
    """What `ingest send` and the tests give a simulator to sign a request as the vendor would."""

    source: SourceConfig
    url: str
    """Where the request goes (vendors such as Twilio and Square sign the URL)."""
    secret: str | None = None
    """The configured secret chosen to sign with (`--secret-index`)."""
    key_dir: Path = Path(".ingest-keys")
    """Where `ingest keys generate` put private keys for asymmetric schemes."""


@dataclass(frozen=True)
class SignedRequest:
    headers: dict[str, str]
    body: bytes
    url: str
    method: str = "POST"


HandlerT = TypeVar("HandlerT", bound=VendorHandler)


class Simulator(ABC, Generic[HandlerT]):
    """One vendor's simulated requests; `handler` is that vendor's handler, for what the two
    share (the options model, the signed URL of vendors that sign one)."""

    vendor: ClassVar[str]
    sample_types: ClassVar[tuple[str, ...]] = ()
    """Event types `sample` knows; `ingest send --type` picks one (the first by default). By
    default the event types of the vendor's data file, `samples/<vendor>.json`."""

    samples_file: ClassVar[str | None] = None
    """The data file's name when it is not the vendor's (vendors that share their samples)."""

    @override
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "vendor" in cls.__dict__ and "sample_types" not in cls.__dict__:
            cls.sample_types = tuple(templates.samples(cls.samples_file or cls.vendor))

    def __init__(self, handler: HandlerT) -> None:
        self.handler = handler

    def sample(self, event_type: str | None) -> bytes:
        """A realistic body for `ingest send`, with fresh ids: the vendor's documented example
        for `event_type` (`samples/<vendor>.json`), its placeholders filled (`templates`)."""
        return templates.body(self.template(event_type), time.time())

    def template(self, event_type: str | None) -> Any:
        name = event_type or (self.sample_types[0] if self.sample_types else "")
        known = templates.samples(self.samples_file or self.vendor)
        if name not in known:
            raise ConfigError(
                f"vendor {self.vendor} has no sample of type {name!r} "
                f"(samples: {', '.join(known) or 'none'})"
            )
        return known[name]

    @abstractmethod
    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        """The request the vendor would send with `body`."""

    def generate_keys(self, key_dir: Path) -> str:
        """Asymmetric schemes: write a local key pair or certificate under `key_dir/<vendor>/`
        and return the sources.yaml lines that trust it, so `ingest send` works offline."""
        raise ConfigError(f"vendor {self.vendor} signs with shared secrets; there are no keys")
