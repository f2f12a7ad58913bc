"""The contract every vendor module implements, and the value types that cross it.

Verification and normalization are pure: bytes, headers, configuration and `now` in; a verdict,
domain events, or one of the errors below out. No I/O: trivially testable and replayable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

from ingest.sources import SourceConfig
from schemas.passthrough import VendorPassthrough


class RejectedRequestError(Exception):
    """A request we refuse; `code` is the machine-readable reason returned to the sender."""

    code: ClassVar[str] = "malformed_request"
    status: ClassVar[int] = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MalformedRequestError(RejectedRequestError):
    code = "malformed_request"
    status = 400


class VerificationError(RejectedRequestError):
    code = "invalid_signature"
    status = 401


class MissingSignatureError(VerificationError):
    code = "missing_signature"


class InvalidSignatureError(VerificationError):
    code = "invalid_signature"


class TimestampOutOfToleranceError(VerificationError):
    code = "timestamp_out_of_tolerance"


@dataclass(frozen=True)
class Verdict:
    """What verification established; stored with the event so replays never re-verify."""

    secret_index: int
    """Which of the source's configured secrets matched (0 = the first): rotation progress."""
    signed_at: int | None = None
    """The vendor's signing timestamp, for schemes that have one."""


@dataclass(frozen=True)
class Identity:
    event_id: str
    """The vendor's id for this delivery: our dedup key together with the source name."""
    event_type: str


@dataclass(frozen=True)
class Delivery:
    """A verified delivery as normalization sees it, from a live request or from the inbox."""

    source: str
    vendor: str
    event_id: str
    event_type: str
    body: bytes
    received_at: datetime

    def json(self) -> Any:
        return parse_json(self.body)


@dataclass(frozen=True)
class Emitted:
    """One domain event a handler produced; the service wraps it in a CloudEvent."""

    type: str
    data: BaseModel
    key: str
    """Kafka partition key: the entity whose events must stay in order (a payment, a repository)."""
    subject: str | None = None
    time: datetime | None = None


class VendorHandler(Protocol):
    vendor: ClassVar[str]
    default_tolerance_seconds: ClassVar[int | None]
    sample_types: ClassVar[tuple[str, ...]]

    def check_config(self, source: SourceConfig) -> None:
        """Raise ConfigError if the source's secrets or options cannot work with this vendor."""
        ...

    def verify(
        self, body: bytes, headers: Mapping[str, str], source: SourceConfig, now: float
    ) -> Verdict:
        """Raise a VerificationError (or MalformedRequestError) unless one secret signed `body`."""
        ...

    def identify(self, body: bytes, headers: Mapping[str, str]) -> Identity:
        """The vendor's event id and type; MalformedRequestError when they are absent."""
        ...

    def normalize(self, delivery: Delivery) -> list[Emitted]:
        """Domain events for the delivery; an empty list for handshakes such as pings."""
        ...

    def sample(self, event_type: str | None) -> bytes:
        """A realistic body for `ingest send`, with fresh ids."""
        ...

    def sign(
        self, body: bytes, secret: str, now: float, event_type: str | None = None
    ) -> dict[str, str]:
        """The headers the vendor would send with `body`: how `ingest send` and tests sign.

        `event_type` matters only to vendors that carry the type in a header (GitHub).
        """
        ...


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise MalformedRequestError("body is not valid UTF-8 JSON") from None


def json_object(body: bytes) -> dict[str, Any]:
    document = parse_json(body)
    if not isinstance(document, dict):
        raise MalformedRequestError("body must be a JSON object")
    return document


def check_tolerance(signed_at: int, now: float, tolerance_seconds: int) -> None:
    """Both directions: a timestamp from the future is as suspicious as a stale one."""
    if abs(now - signed_at) > tolerance_seconds:
        raise TimestampOutOfToleranceError(
            f"signature timestamp is more than {tolerance_seconds}s away from now"
        )


def parse_unix_timestamp(raw: str | None) -> int:
    if raw is None or not raw.strip().isdigit() or len(raw.strip()) > 12:
        raise InvalidSignatureError("signature timestamp is not a Unix time in seconds")
    return int(raw.strip())


def passthrough(delivery: Delivery, payload: Any) -> Emitted:
    return Emitted(
        type=f"{delivery.vendor}.{delivery.event_type}",
        data=VendorPassthrough(
            vendor=delivery.vendor, vendor_event_type=delivery.event_type, payload=payload
        ),
        key=delivery.event_id,
        subject=None,
    )


def from_unix(seconds: int | float | None) -> datetime | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC)
