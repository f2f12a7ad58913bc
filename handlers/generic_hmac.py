"""Any sender that signs with an HMAC: the source says which header, algorithm, encoding and
prefix, and what was signed (`signed_content`, a template over `{body}`, `{timestamp}`, `{id}` and
`{url}`). Ids and types come from headers or JSON paths (`handlers._extraction`).

The configuration fails closed where a mistake would quietly weaken verification: the template
must cover the body; a configured timestamp must be signed (an unsigned one proves nothing about
replay); `tolerance_seconds` without a timestamp is refused rather than ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar, Literal, Self

from pydantic import BaseModel, field_validator, model_validator
from typing_extensions import override

from ingest.errors import ConfigError
from ingest.handlers import _extraction, base
from ingest.handlers._extraction import ExtractionOptions, header_name
from ingest.handlers.schemes.hmac_signature import HmacSignature
from ingest.sources import SourceConfig

PLACEHOLDER = re.compile(r"\{(body|timestamp|id|url)\}")


class GenericHmacOptions(ExtractionOptions):
    header: str
    """The header carrying the signature, e.g. `x-signature`."""
    algorithm: Literal["sha1", "sha256", "sha512"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    """How the MAC is written: hex (either case) or standard base64 with padding."""
    prefix: str = ""
    """Text before the encoded MAC, e.g. `sha256=` (GitHub) or `v1=` (Stripe)."""
    signed_content: str = "{body}"
    """What was signed: `{body}` (the raw bytes), `{timestamp}`, `{id}` (from `id_header`) and
    `{url}` (the full URL the sender posted to), with any literal text between them."""
    timestamp_header: str | None = None
    """Header carrying the Unix time (seconds) the sender signed; checked both ways."""
    timestamp_prefix: str | None = None
    """Or: the timestamp is an element of the signature header with this prefix (Stripe's
    `t=`); needs `multiple_signatures_separator`."""
    multiple_signatures_separator: str | None = None
    """For headers carrying several elements, e.g. `,` or ` `: any element that has `prefix` and
    matches verifies; elements without it are ignored."""

    @field_validator("header", "timestamp_header")
    @classmethod
    def _signature_header_names(cls, value: str | None) -> str | None:
        return header_name(value)

    @field_validator("prefix", "timestamp_prefix", "multiple_signatures_separator")
    @classmethod
    def _short(cls, value: str | None) -> str | None:
        if value is not None and (len(value) > 50 or not value.isprintable()):
            raise ValueError("must be at most 50 printable characters")
        return value

    @field_validator("signed_content")
    @classmethod
    def _template(cls, value: str) -> str:
        if "{body}" not in value:
            raise ValueError("must include {body}: otherwise the body is not signed")
        if "{" in PLACEHOLDER.sub("", value) or "}" in PLACEHOLDER.sub("", value):
            raise ValueError("placeholders are {body}, {timestamp}, {id} and {url}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        separator = self.multiple_signatures_separator
        has_timestamp = self.timestamp_header is not None or self.timestamp_prefix is not None
        if self.timestamp_header and self.timestamp_prefix:
            raise ValueError("set timestamp_header or timestamp_prefix, not both")
        if self.timestamp_prefix is not None and not separator:
            raise ValueError("timestamp_prefix needs multiple_signatures_separator")
        if separator == "":
            raise ValueError("multiple_signatures_separator must not be empty")
        if separator and (separator in self.prefix or separator in (self.timestamp_prefix or "")):
            raise ValueError("prefixes must not contain multiple_signatures_separator")
        if "{timestamp}" in self.signed_content and not has_timestamp:
            raise ValueError("{timestamp} needs timestamp_header or timestamp_prefix")
        if has_timestamp and "{timestamp}" not in self.signed_content:
            raise ValueError(
                "signed_content must include {timestamp} when a timestamp is configured: "
                "an unsigned timestamp cannot stop replays"
            )
        if "{id}" in self.signed_content and not self.id_header:
            raise ValueError("{id} needs id_header")
        return self

    @property
    def has_timestamp(self) -> bool:
        return self.timestamp_header is not None or self.timestamp_prefix is not None

    @property
    def signature(self) -> HmacSignature:
        return HmacSignature(
            header=self.header,
            vendor=self.header,
            algorithm=self.algorithm,
            encoding=self.encoding,
            prefix=self.prefix,
            separator=self.multiple_signatures_separator,
        )


def _content(template: str, values: Mapping[str, bytes]) -> bytes:
    """The template with its placeholders replaced by bytes: never `str.format`, which would let
    a template reach attributes, and which would force the body through a text decoding."""
    parts: list[bytes] = []
    position = 0
    for match in PLACEHOLDER.finditer(template):
        parts.append(template[position : match.start()].encode())
        parts.append(values[match.group(1)])
        position = match.end()
    parts.append(template[position:].encode())
    return b"".join(parts)


def _timestamp(options: GenericHmacOptions, request: base.InboundRequest) -> bytes:
    """The signed timestamp's bytes as sent: its header, or the one element of the signature
    header with `timestamp_prefix`. Two such elements are refused: which one was signed would be
    a guess, and taking either would let a sender pick the one inside the window."""
    if options.timestamp_header:
        return (request.header_bytes(options.timestamp_header) or b"").strip(b" \t")
    if options.timestamp_prefix is None or options.multiple_signatures_separator is None:
        return b""
    prefix = options.timestamp_prefix.encode()
    header = request.header_bytes(options.header) or b""
    elements = (
        e.strip(b" \t") for e in header.split(options.multiple_signatures_separator.encode())
    )
    found = [element[len(prefix) :] for element in elements if element.startswith(prefix)]
    if len(found) > 1:
        raise base.InvalidSignatureError(f"{options.header} carries more than one timestamp")
    return found[0].strip(b" \t") if found else b""


class GenericHmacHandler(_extraction.ExtractingHandler):
    vendor: ClassVar[str] = "generic-hmac"
    summary: ClassVar[str] = (
        "configurable HMAC-SHA1/256/512 (hex or base64, optional prefix) over a template of "
        "{body}, {timestamp}, {id}, {url}"
    )
    signature_headers: ClassVar[tuple[str, ...]] = ()  # per source: the `header` option
    options_model: ClassVar[type[BaseModel]] = GenericHmacOptions
    # Applies only to sources that configure a timestamp.
    default_tolerance_seconds: ClassVar[int | None] = 300

    @override
    def check_config(self, source: SourceConfig) -> SourceConfig:
        source = super().check_config(source)
        options = self.options(source, GenericHmacOptions)
        if source.tolerance_seconds is not None and not options.has_timestamp:
            raise ConfigError(
                f"source {source.name!r}: tolerance_seconds needs timestamp_header or "
                "timestamp_prefix (without a signed timestamp there is nothing to check)"
            )
        return source

    @override
    def verify(self, check: base.Verification) -> base.Verdict:
        request, source, now = check.request, check.source, check.now
        options = self.options(source, GenericHmacOptions)
        signature = options.signature
        offered = signature.offered(request)
        signed_at: int | None = None
        values = {"body": request.body, "url": request.url.encode("utf-8", "surrogatepass")}
        if options.has_timestamp:
            raw_timestamp = _timestamp(options, request)
            signed_at = base.parse_unix_timestamp(raw_timestamp)
            values["timestamp"] = raw_timestamp
        if options.id_header and "{id}" in options.signed_content:
            msg_id = (request.header_bytes(options.id_header) or b"").strip(b" \t")
            if not msg_id or len(msg_id) > 255:
                raise base.InvalidSignatureError(f"{options.id_header} header (signed) is missing")
            values["id"] = msg_id
        content = _content(options.signed_content, values)
        index = signature.matching_secret(source.secrets, [content], offered)
        if signed_at is not None:
            base.check_tolerance(signed_at, now, self.tolerance(source))
        return base.Verdict(secret_index=index, signed_at=signed_at)
