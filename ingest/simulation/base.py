"""What a vendor's simulator is: it makes the requests the vendor would send (a realistic body
with fresh ids, signed with the vendor's scheme), for `ingest send`, the benchmarks and the tests.

Kept apart from `ingest.handlers`, which only verifies and maps what arrives: a reader of a
vendor's handler sees no sample data, and the service never imports a simulator to receive.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Generic, TypeVar

from ingest.errors import ConfigError
from ingest.handlers.base import VendorHandler
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
    """Event types `sample` knows; `ingest send --type` picks one (the first by default)."""

    def __init__(self, handler: HandlerT) -> None:
        self.handler = handler

    @abstractmethod
    def sample(self, event_type: str | None) -> bytes:
        """A realistic body for `ingest send`, with fresh ids."""

    @abstractmethod
    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        """The request the vendor would send with `body`."""

    def generate_keys(self, key_dir: Path) -> str:
        """Asymmetric schemes: write a local key pair or certificate under `key_dir/<vendor>/`
        and return the sources.yaml lines that trust it, so `ingest send` works offline."""
        raise ConfigError(f"vendor {self.vendor} signs with shared secrets; there are no keys")
