"""The contract every vendor module implements, and the value types that cross it.

Verification and normalization are pure: the request, the source's configuration, `now`, and any
certificates the service fetched for it go in; a verdict, domain events, or one of the errors
below come out. No I/O: trivially testable and replayable.

Vendor modules subclass `VendorHandler`, which supplies the defaults most vendors need (no
certificates, no handshake, no GET), and implement `verify`, `identify` and `normalize`.
"""

from __future__ import annotations

import hashlib
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError
from typing_extensions import override

# The errors a handler raises, re-exported (see __all__): vendor modules import their contract
# from here.
from ingest.errors import (
    ConfigError,
    ForbiddenSourceAddressError,
    InvalidCredentialsError,
    InvalidSignatureError,
    MalformedRequestError,
    MethodNotAllowedError,
    MissingCredentialsError,
    MissingSignatureError,
    RejectedRequestError,
    TimestampOutOfToleranceError,
    TransientHandlerError,
    VerificationError,
    WireError,
)
from ingest.schemas.passthrough import VendorPassthrough
from ingest.sources import RawOptions, SourceConfig

# -- values -------------------------------------------------------------------------


class ParsedBody:
    """A body's JSON, parsed on first use and kept: what stages of one delivery share."""

    __slots__ = ("_value",)
    _UNSET: ClassVar[object] = object()

    def __init__(self) -> None:
        self._value: Any = self._UNSET

    def of(self, body: bytes) -> Any:
        if self._value is self._UNSET:
            self._value = parse_json(body)  # a body that is not JSON raises every time: no cache
        return self._value


@dataclass(frozen=True)
class InboundRequest:
    """What arrived, as the sender addressed it."""

    method: str
    url: str
    """The full URL the sender used (scheme and host as configured or as seen; see `public_url`)."""
    headers: Mapping[str, str]
    """Lower-case names; values decoded as latin-1 (as Starlette does), for reading text."""
    body: bytes
    client_ip: str | None = None
    raw_headers: Mapping[str, bytes] | None = None
    """The same headers' values as the bytes received (the app passes Starlette's
    `Headers.raw`); what signatures and credentials are compared as."""

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.url).query, keep_blank_values=True)

    parsed: ParsedBody = field(default_factory=ParsedBody, compare=False, repr=False)

    def json(self) -> Any:
        """The body as JSON, parsed once for every stage (documents, verify, identify, and the
        normalization that follows on the request path); MalformedRequestError if it is not.
        Shared: a handler reads it, never changes it."""
        return self.parsed.of(self.body)

    def json_object(self) -> dict[str, Any]:
        return _object(self.json())

    def required_header(self, name: str, *, max_length: int = 4096) -> str:
        """Header `name` (as the vendor spells it, for the message), stripped: the opening of a
        verification. `MissingSignatureError` when it is absent or blank, so the vendor is told
        what is missing; `InvalidSignatureError` when it is longer than any the vendor sends."""
        value = self.headers.get(name.lower(), "").strip()
        if not value:
            raise MissingSignatureError(f"{name} header is missing")
        if len(value) > max_length:
            raise InvalidSignatureError(f"{name} header is malformed")
        return value

    def body_digest(self) -> str:
        """SHA-256 (hex) of the body: the event id of a vendor that sends none. A redelivery is
        byte-identical, so it is recognised; ids already stored depend on it staying so."""
        return hashlib.sha256(self.body).hexdigest()

    def header_bytes(self, name: str) -> bytes | None:
        """Header `name` (lower-case) as the sender's bytes; None when absent. Never raises: a
        request built without raw headers (a test, a replay) gives its text's latin-1 bytes,
        which are the bytes received for anything that came over HTTP; text beyond latin-1
        never did, and is taken as UTF-8 (lone surrogates too), so it fails as malformed."""
        if self.raw_headers is not None:
            return self.raw_headers.get(name)
        value = self.headers.get(name)
        if value is None:
            return None
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogatepass")


@dataclass(frozen=True)
class Verification:
    """What a handler verifies with: the request, its source, the time to judge timestamps by,
    and the documents (certificates, keys) the service fetched for it (`documents()`)."""

    request: InboundRequest
    source: SourceConfig
    now: float
    documents: Mapping[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """What verification established; stored with the event so replays never re-verify."""

    secret_index: int
    """Which configured secret or key matched (0 = the first): shows rotation progress."""
    signed_at: int | None = None
    """The vendor's signing timestamp, for schemes that have one."""


@dataclass(frozen=True)
class Identity:
    event_id: str
    """The vendor's id for this delivery: our dedup key together with the source name."""
    event_type: str
    handshake: bool = False
    """A subscription or URL check (GitHub ping, Slack url_verification…): stored and answered,
    never published as a domain event."""
    confirm_url: str | None = None
    """A URL the vendor wants us to GET to confirm a subscription (AWS SNS)."""


@dataclass(frozen=True)
class EventFields:
    """Where a vendor's JSON event names its id and its type, in two top-level fields (Stripe's
    `id` and `type`, PayPal's `id` and `event_type`)."""

    vendor: str
    """For messages: "PayPal event_type is missing or not a short string"."""
    id: str
    type: str

    def identity(self, event: Mapping[str, Any]) -> Identity:
        """Each field refused by name when missing or unusable as a key."""
        return Identity(
            event_id=bounded_id(event.get(self.id), f"{self.vendor} {self.id}"),
            event_type=vendor_type(event.get(self.type), f"{self.vendor} {self.type}"),
        )


@dataclass(frozen=True)
class Reply:
    """A vendor-mandated answer (a handshake's echo, Mixpanel's format) instead of our default."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"


@dataclass(frozen=True)
class Delivery:
    """A verified delivery as normalization sees it, from a live request or from the inbox."""

    source: str
    vendor: str
    event_id: str
    event_type: str
    body: bytes
    received_at: datetime
    headers: Mapping[str, str] = field(default_factory=dict)
    """Redacted as stored: vendors that carry the type or ids in headers read them here."""
    parsed: ParsedBody = field(default_factory=ParsedBody, compare=False, repr=False)
    """On the request path, the request's own: its body is not parsed again to be mapped."""

    def json(self) -> Any:
        """The body as JSON, parsed once (see `InboundRequest.json`)."""
        return self.parsed.of(self.body)

    def json_object(self) -> dict[str, Any]:
        return _object(self.json())


@dataclass(frozen=True, kw_only=True)
class Emitted:
    """One domain event a handler produced; the service wraps it in a CloudEvent."""

    data: BaseModel
    key: str
    """Kafka partition key: the entity whose events must stay in order (a payment, a repository)."""
    subject: str | None = None
    time: datetime | None = None
    """When it happened. Left out, it is the data's `occurred_at` where the data has one (and must
    agree with it if given); data without one (a passthrough) takes it from here, else the
    CloudEvent's time is when the delivery was received."""
    item_id: str | None = None
    """For a batch (SendGrid, Okta…): the vendor's id of this item. It makes the CloudEvent id, and
    an item already seen from this source in an earlier delivery is not published again."""
    type: str = ""
    """The CloudEvent type. Left out, it is the data's own `event_type` (`<vendor>.<vendor type>`
    for a passthrough), so a handler cannot publish a domain event under another one's type:
    given, it must agree with the data's. Data whose type depends on its content (a pull
    request's verb) has none of its own and needs it, as does a passthrough whose vendor type is
    spelled otherwise in a CloudEvent type (Shopify's `orders/create` → `shopify.orders.create`)."""

    def __post_init__(self) -> None:
        if self.item_id is not None:
            object.__setattr__(self, "item_id", storable_item_id(self.item_id))
        occurred_at = getattr(self.data, "occurred_at", None)
        if isinstance(occurred_at, datetime):
            if self.time is not None and self.time != occurred_at:
                raise ValueError(f"time {self.time} disagrees with its data's {occurred_at}")
            object.__setattr__(self, "time", occurred_at)
        declared = getattr(type(self.data), "event_type", None)
        if not isinstance(declared, str):
            declared = None
        if self.type and declared is not None and declared != self.type:
            raise ValueError(f"type {self.type!r} disagrees with its data's {declared!r}")
        if not self.type:
            if isinstance(self.data, VendorPassthrough):
                declared = f"{self.data.vendor}.{self.data.vendor_event_type}"
            if declared is None:
                raise TypeError(f"{type(self.data).__name__} has no event_type: pass type=")
            object.__setattr__(self, "type", declared)


class NoOptions(BaseModel):
    """Vendors without configuration keys beyond `secrets` reject any other key (typos)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


OptionsT = TypeVar("OptionsT", bound=BaseModel)
ItemT = TypeVar("ItemT")


class Configured(ABC):
    """What every role shares: which vendor, and how a source of it is configured."""

    vendor: ClassVar[str]
    summary: ClassVar[str] = ""
    """One line for `ingest vendors` and the docs: how authenticity is established."""
    options_model: ClassVar[type[BaseModel]] = NoOptions
    requires_secrets: ClassVar[bool] = True
    secrets_usage: ClassVar[str | None] = None
    """How `ingest vendors` describes `secrets` when neither "required" nor "not used" fits."""
    credentials_option: ClassVar[str | None] = None
    """Where a vendor that needs no `secrets` takes its credentials (`'tokens'`): a source that
    sets `secrets` anyway is refused, pointed there, rather than left unauthenticated by them."""
    default_tolerance_seconds: ClassVar[int | None] = None
    """How far a signed timestamp may be from now; None: the vendor signs no time, so a source
    setting `tolerance_seconds` is refused (it would protect nothing)."""

    def check_config(self, source: SourceConfig) -> SourceConfig:
        """Validate the source for this vendor; returns it with `options` parsed."""
        if self.requires_secrets and not source.secrets:
            raise ConfigError(f"source {source.name!r}: vendor {self.vendor} needs 'secrets'")
        if self.credentials_option is not None and source.secrets:
            raise ConfigError(
                f"source {source.name!r}: vendor {self.vendor} takes its credentials in "
                f"{self.credentials_option}, not 'secrets'"
            )
        if self.default_tolerance_seconds is None and source.tolerance_seconds is not None:
            raise ConfigError(
                f"source {source.name!r}: tolerance_seconds has no effect for vendor "
                f"{self.vendor}: it signs no timestamp, so there is none to check"
            )
        try:
            options = self.options_model.model_validate(_as_mapping(source.options))
        except ValidationError as exc:
            problems = "; ".join(
                f"{_place(err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
                for err in exc.errors(include_input=False, include_url=False)
            )
            raise ConfigError(f"source {source.name!r}: {problems}") from None
        for index, secret in enumerate(source.secrets):
            if (problem := self.secret_problem(secret)) is not None:
                raise ConfigError(f"source {source.name!r}: secrets[{index}] {problem}")
        return source.with_options(options)

    def secret_problem(self, secret: str) -> str | None:
        """Why `secret` cannot be one this vendor issues (truncated, mistyped, the wrong key), or
        None. Checked for each secret at start-up: otherwise it would fail every delivery as
        `invalid_signature`, which looks like the vendor's fault. The answer is shown after
        `secrets[<index>]` and must never quote the secret."""
        return None

    def options(self, source: SourceConfig, model: type[OptionsT]) -> OptionsT:
        """The source's options as `model`: the parsed ones once `check_config` ran (at
        start-up), else validated from what was read (a simulator or a test may ask first)."""
        options = source.options
        if isinstance(options, model):
            return options
        return model.model_validate(_as_mapping(options))

    def tolerance(self, source: SourceConfig) -> int:
        return source.tolerance_seconds or self.default_tolerance_seconds or 300

    def credential_headers(self, source: SourceConfig) -> frozenset[str]:
        """Headers this source takes a credential in beyond the usual ones: the inbox stores
        them blanked, for every source (a sender may put one source's credential anywhere)."""
        return frozenset()


class Verifier(Configured):
    """Verification: is this request the vendor's? Pure, over the exact bytes received."""

    signature_headers: ClassVar[tuple[str, ...]] = ()
    """Headers that carry the signature or credentials (shown by `ingest vendors`)."""
    document_hosts: ClassVar[tuple[re.Pattern[str], ...]] = ()
    """Hosts `documents()` URLs may be fetched from (https only); anything else is refused."""
    document_cache_seconds: ClassVar[float] = 3600.0

    def documents(self, request: InboundRequest) -> list[str]:
        """URLs of certificates or keys verification needs; the service fetches them."""
        return []

    def pinned_documents(self, source: SourceConfig) -> Mapping[str, str]:
        """Document URL → local file, read instead of fetching (air-gapped installs)."""
        return {}

    @abstractmethod
    def verify(self, check: Verification) -> Verdict:
        """Raise a VerificationError (or MalformedRequestError) unless the vendor sent
        `check.request`. Pure: no I/O, no clock but `check.now`."""


class Identifier(Configured):
    """Identity: the vendor's event id (the dedup key) and type, and handshakes."""

    @abstractmethod
    def identify(self, request: InboundRequest, source: SourceConfig) -> Identity:
        """The vendor's event id and type; MalformedRequestError when the body does not have
        them (the service then stores it under a fallback identity), WireError when a header
        the vendor always sends is missing (refused)."""

    def delivery_id(self, request: InboundRequest) -> str | None:
        """The vendor's id for this delivery when it travels outside the body (a header), so
        a body of unexpected shape still deduplicates on the vendor's own id."""
        return None

    def handle_get(self, request: InboundRequest, source: SourceConfig) -> Reply:
        """Answer a GET to the endpoint (Okta's verification challenge); 405 otherwise."""
        raise MethodNotAllowedError(f"{self.vendor} endpoints accept POST only")


class Mapper(Configured):
    """Mapping: a stored delivery to vendor-neutral domain events."""

    mapped_types: ClassVar[Mapping[str, str]] = {}
    """Vendor type → CloudEvent type, for the docs; anything else passes through."""

    @abstractmethod
    def normalize(self, delivery: Delivery) -> list[Emitted]:
        """Domain events for the delivery; an empty list for handshakes."""


class Responder(Configured):
    """The vendor's reply, and work after the commit."""

    def reply(self, request: InboundRequest, identity: Identity) -> Reply | None:
        """The body the vendor requires in answer, if it requires one."""
        return None

    def confirms_automatically(self, source: SourceConfig) -> bool:
        """Whether a subscription's `confirm_url` is fetched right after the commit."""
        return True


class VendorHandler(Verifier, Identifier, Mapper, Responder):
    """The contract every vendor module implements: its four roles, each a small interface
    the service's stages are typed against (the request path needs a `Verifier` and an
    `Identifier`, processing a `Mapper`…). The members a vendor must write are abstract: a
    module that forgets one cannot be instantiated, so the catalog fails at import, not on the
    first request; the rest have the defaults most vendors need. How a vendor's requests are
    simulated (`ingest send`, the tests) is not here: `ingest.simulation`."""


class FieldsIdentified(VendorHandler):
    """The identity role of a vendor whose event is one JSON object that names its id and type
    (`EventFields`): the vendor declares `event_fields` instead of writing `identify`."""

    event_fields: ClassVar[EventFields]

    @override
    def identify(self, request: InboundRequest, source: SourceConfig) -> Identity:
        return self.event_fields.identity(request.json_object())


def _place(loc: tuple[int | str, ...]) -> str:
    """Where in a source's options a problem is, as the sources file spells it:
    `public_keys[1]`, `certificates['https://…']`, `signature.header`."""
    if not loc:
        return "options"
    place = str(loc[0])
    for part in loc[1:]:
        if isinstance(part, int):
            place += f"[{part}]"
        elif part.isidentifier():
            place += f".{part}"
        else:
            place += f"[{part!r}]"
    return place


def _as_mapping(options: BaseModel) -> dict[str, object]:
    """The keys a model holds: a checked model's fields, or the raw keys as read."""
    return options.as_mapping() if isinstance(options, RawOptions) else options.model_dump()


# -- helpers -------------------------------------------------------------------------


MAX_INT_DIGITS = 4300
"""CPython refuses longer integers (CVE-2020-10735: converting them is quadratic)."""
HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}")
"""An HTTP field name (an RFC 9110 token), as a source may name one in its options. Matched
whole (`fullmatch`): `match` with `$` would let a name ending in a newline through."""


def _integer(text: str) -> int | str:
    """A JSON integer; one too long to convert stays its digits, so the body still parses."""
    return int(text) if len(text.lstrip("-")) <= MAX_INT_DIGITS else text


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body, parse_int=_integer)
    except (UnicodeDecodeError, ValueError, RecursionError):  # JSONDecodeError is a ValueError
        raise MalformedRequestError("body is not valid UTF-8 JSON") from None


def json_object(body: bytes) -> dict[str, Any]:
    return _object(parse_json(body))


def _object(document: Any) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise MalformedRequestError("body must be a JSON object")
    return document


def check_tolerance(signed_at: int, now: float, tolerance_seconds: int) -> None:
    """Both directions: a timestamp from the future is as suspicious as a stale one."""
    if abs(now - signed_at) > tolerance_seconds:
        raise TimestampOutOfToleranceError(
            f"signature timestamp is more than {tolerance_seconds}s away from now"
        )


def parse_unix_timestamp(raw: bytes | str | None) -> int:
    """A signed Unix time in seconds, from the header's bytes (or text). Bytes are the way:
    `bytes.isdigit` is ASCII digits only, where `str.isdigit` also admits "²" and "١٢٣",
    which `int()` then refuses (a ValueError, a 500)."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else (raw or b"")
    digits = data.strip(b" \t")
    if not digits.isdigit() or len(digits) > 12:
        raise InvalidSignatureError("signature timestamp is not a Unix time in seconds")
    return int(digits)


def bounded_id(value: Any, what: str) -> str:
    """A vendor id fit for a dedup key: a non-empty string of at most 255 characters."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > 255:
        raise MalformedRequestError(f"{what} is missing or not a short string")
    # PostgreSQL cannot store NUL, and a surrogate cannot be encoded: neither makes a usable key.
    if any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise MalformedRequestError(f"{what} contains control characters")
    return value


MAX_ITEM_ID_LENGTH = 255
"""The inbox's item claims (`inbox_items.item_id`) hold at most this many characters."""
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
"""NUL (PostgreSQL text cannot hold it) and lone surrogates (JSON can escape one, UTF-8 cannot
encode it): vendor ids are free text, so either can reach the inbox's item claims."""


def text_digest(text: str) -> str:
    """SHA-256 (hex) of a vendor's text, for ids made from it. `surrogatepass`: JSON can escape a
    lone surrogate, which strict UTF-8 refuses to encode; such a value is hashed, not a crash."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def storable_item_id(value: str) -> str:
    """`value` itself, or, where the inbox could not store it as written, its SHA-256: the same
    id always gives the same text, so it still recognises the item's redelivery, and the
    delivery is never refused for it. (The key and type are made safe with the CloudEvent.)"""
    if UNSTORABLE.search(value) is None and len(value) <= MAX_ITEM_ID_LENGTH:
        return value
    return f"sha256:{text_digest(value)}"


def content_digest(value: Any) -> str:
    """SHA-256 (hex) of `value` as canonical JSON (sorted keys, no spaces): an id for an item
    the vendor gives none, the same however the vendor orders its keys on redelivery. Item ids
    already stored depend on it, so it must never change."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()


def vendor_type(value: Any, what: str, *, max_length: int = 255) -> str:
    """The vendor's name for what happened, as sent: a non-empty string of bounded length. What a
    column cannot hold (a NUL) is cleaned by the service, which keeps the rest of the type."""
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise MalformedRequestError(f"{what} is missing or not a short string")
    return value


PASSING_CAUSES: tuple[type[Exception], ...] = (TransientHandlerError, TimeoutError, ConnectionError)
"""What a mapping may raise for a reason that passes: the delivery is `retrying`, not `failed`
(processing adds the service's own, such as an outbound fetch that failed)."""


class PartlyMappedError(Exception):
    """Some items of a batch could not be mapped. The others are in `emitted`: processing
    publishes them and keeps the delivery `failed` with each failure named, so one bad item
    never holds back the rest, and a replay once the cause is fixed publishes it too (the items
    published before keep their CloudEvent ids, which consumers deduplicate by)."""

    def __init__(
        self, emitted: list[Emitted], failures: list[tuple[int, Exception]], total: int
    ) -> None:
        super().__init__(f"{len(failures)} of {total} items not mapped")
        self.emitted = emitted
        self.failures = failures
        """Each failed item's position in the batch (from 0) and what its mapping raised."""
        self.total = total


def map_items(
    items: Iterable[ItemT], build: Callable[[ItemT], Emitted | list[Emitted]]
) -> list[Emitted]:
    """A batch's events, item by item: `build` maps one item (to one event, or to several, as
    a presence message names several members); an item it cannot map is set aside and the
    rest still mapped, then PartlyMappedError carries what was. Each item must carry an
    `item_id`: it, not the position, makes the item's CloudEvent id, so the events published
    before a failed item is fixed keep their ids when the batch is replayed."""
    emitted: list[Emitted] = []
    failures: list[tuple[int, Exception]] = []
    total = 0
    for position, item in enumerate(items):
        total += 1
        try:
            built = build(item)
        except PASSING_CAUSES:
            raise  # a cause that passes: the whole delivery is retried, not one item parked
        except Exception as exc:  # noqa: BLE001 - any item's mapping bug is parked, never fatal to the batch
            failures.append((position, exc))
            continue
        emitted.extend([built] if isinstance(built, Emitted) else built)
    if failures:
        raise PartlyMappedError(emitted, failures, total)
    return emitted


def passthrough(delivery: Delivery, payload: Any, *, key: str | None = None) -> Emitted:
    return Emitted(
        data=VendorPassthrough(
            vendor=delivery.vendor, vendor_event_type=delivery.event_type, payload=payload
        ),
        key=key or delivery.event_id,
        subject=None,
    )


def from_unix(seconds: int | float | None) -> datetime | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC)


_FRACTION = re.compile(r"\.(\d+)")


def iso_time(raw: Any) -> datetime | None:
    """An ISO 8601 / RFC 3339 time as vendors write it, in UTC; None when absent or unreadable
    (normalization then falls back to the receive time rather than failing the event).

    `Z` means UTC; a time without an offset is taken as UTC, never the server's local time;
    fractions finer than microseconds (.NET ticks, nanoseconds) are cut, as Python 3.11's
    `fromisoformat` refuses them."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 64:
        return None
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6], raw.strip().replace("Z", "+00:00"), 1)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def required_text(raw: Any, what: str) -> str:
    """A value the domain event cannot be built without: a non-empty string, else a ValueError
    naming `what` (the delivery is then `failed`: kept, shown by `ingest failed`, replayable)."""
    if not isinstance(raw, str) or not raw:
        raise ValueError(f"{what} is missing or not a string")
    return raw


def required_time(raw: Any, what: str) -> datetime:
    """`required_text` for a time the event is dated by (an audit log's entry without one
    cannot say when a sign-in happened), read as `iso_time` reads it."""
    moment = iso_time(raw)
    if moment is None:
        raise ValueError(f"{what} is missing or not an ISO 8601 time")
    return moment


def required_object(raw: Any, what: str) -> dict[str, Any]:
    """`required_text` for a JSON object the mapping reads further (PayPal's `resource`)."""
    if not isinstance(raw, dict):
        raise ValueError(f"{what} is missing or not an object")
    return raw


def object_or_empty(raw: Any) -> dict[str, Any]:
    """A nested object whose fields the mapping reads as optional: `{}` where the vendor left it
    out or wrote something else, so each of its fields reads as absent rather than failing."""
    return raw if isinstance(raw, dict) else {}


def id_or_none(raw: Any) -> str | None:
    """An optional vendor id: a non-empty string, or an integer (Shopify's and some Segment
    sources' ids are JSON numbers) written as one."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)
    return raw if isinstance(raw, str) and raw else None


def text_or_none(raw: Any) -> str | None:
    """A non-blank string, else None: vendors write "" or null for values that do not apply."""
    return raw if isinstance(raw, str) and raw.strip() else None


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


__all__ = [
    "MAX_INT_DIGITS",
    "ConfigError",
    "Delivery",
    "Emitted",
    "ForbiddenSourceAddressError",
    "Identity",
    "InboundRequest",
    "InvalidCredentialsError",
    "InvalidSignatureError",
    "MalformedRequestError",
    "MethodNotAllowedError",
    "MissingCredentialsError",
    "MissingSignatureError",
    "NoOptions",
    "OptionsT",
    "RejectedRequestError",
    "Reply",
    "TimestampOutOfToleranceError",
    "TransientHandlerError",
    "VendorHandler",
    "Verdict",
    "Verification",
    "VerificationError",
    "WireError",
    "bounded_id",
    "check_tolerance",
    "from_unix",
    "iso_time",
    "json_object",
    "lower_headers",
    "parse_json",
    "parse_unix_timestamp",
    "passthrough",
    "text_or_none",
]
