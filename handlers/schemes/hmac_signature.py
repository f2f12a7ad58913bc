"""HMAC signatures in a header: the scheme behind GitHub, Shopify, Slack, Segment, Square,
Twilio, Pusher, Ably and `generic-hmac`, parsed and compared in one place.

What differs between vendors is declared (`HmacSignature`): the header, the digest, how the MAC
is written (hex in either case, or standard base64), a prefix (`sha256=`, `v0=`), and whether
the header holds several elements. What is signed (the body, a timestamp and the body, the URL
and its parameters) stays the vendor's: it passes the bytes in.

Every comparison is `hmac.compare_digest` on decoded MACs of the digest's length, so neither the
letter case of hex nor the position of a mismatch changes how long a refusal takes; a header that
offers nothing well formed is a 401 `invalid_signature`, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from typing_extensions import override

from ingest.handlers import base

Algorithm = Literal["sha1", "sha256", "sha512"]
Encoding = Literal["hex", "base64"]

DIGESTS: Mapping[str, Callable[[], hashlib._Hash]] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha512": hashlib.sha512,
}
DIGEST_SIZES: Mapping[str, int] = {name: digest().digest_size for name, digest in DIGESTS.items()}
"""Looked up per offered element: a hash object made each time to ask its size would be waste."""
MAX_HEADER_LENGTH = 4096
"""Longer than any vendor's header (Stripe's with several v1 and v0 elements is ~300)."""
MAX_SIGNATURES = 16
"""Elements looked at in one header: rotation sends two or three, not thousands."""
HEX = re.compile(rb"[0-9A-Fa-f]+")
BASE64 = re.compile(rb"[A-Za-z0-9+/]+={0,2}")
WHITESPACE = b" \t"
"""HTTP's optional whitespace: anything else around a MAC makes it malformed."""


@dataclass(frozen=True)
class HmacSignature:
    """Where a vendor's HMAC travels and how it is written."""

    header: str
    """As the vendor documents it (`X-Hub-Signature-256`): named in errors, looked up lower-case."""
    vendor: str
    """For messages: "no GitHub signature matches a configured secret"."""
    algorithm: Algorithm = "sha256"
    encoding: Encoding = "hex"
    prefix: str = ""
    """Text before the MAC in each element (`sha256=`, `v0=`); an element without it is ignored."""
    separator: str | None = None
    """Several elements in one header (`,` or ` `): any that has `prefix` and matches verifies."""

    @property
    def digest_size(self) -> int:
        return DIGEST_SIZES[self.algorithm]

    # -- verifying -----------------------------------------------------------------------

    def offered(self, request: base.InboundRequest) -> list[bytes]:
        """The decoded MACs the header offers, of the digest's length, read from the bytes
        received (a MAC is ASCII: any other byte makes an element malformed, never a crash).

        MissingSignatureError when the header is absent or blank; InvalidSignatureError when it
        is too long or offers nothing well formed."""
        value = request.header_bytes(self.header.lower())
        if value is None or not value.strip(WHITESPACE):
            raise base.MissingSignatureError(f"{self.header} header is missing")
        if len(value) > MAX_HEADER_LENGTH:
            raise base.InvalidSignatureError(f"{self.header} header is malformed")
        separator = None if self.separator is None else self.separator.encode()
        elements = [value] if separator is None else value.split(separator)
        prefix = self.prefix.encode()
        macs: list[bytes] = []
        for element in (e.strip(WHITESPACE) for e in elements[: MAX_SIGNATURES * 4]):
            if not element.startswith(prefix):
                continue
            mac = self.decode(element[len(prefix) :].strip(WHITESPACE))
            if mac is not None and len(mac) == self.digest_size and len(macs) < MAX_SIGNATURES:
                macs.append(mac)
        if not macs:
            expected = f"{self.prefix}<{self.encoding} {self.algorithm}>"
            raise base.InvalidSignatureError(
                f"{self.header} has no signature of the form {expected}"
            )
        return macs

    def matching_secret(
        self, secrets: Sequence[str], contents: Sequence[bytes], offered: Sequence[bytes]
    ) -> int:
        """The index of the first secret whose MAC over one of `contents` (a vendor may sign
        one of several spellings of a URL) is among `offered`; InvalidSignatureError if none."""
        for index, secret in enumerate(secrets):
            for content in contents:
                expected = self.compute(secret, content)
                # Every offered MAC is compared, matching or not: no early exit to time.
                matches = [hmac.compare_digest(expected, mac) for mac in offered]
                if any(matches):
                    return index
        raise base.InvalidSignatureError(f"no {self.vendor} signature matches a configured secret")

    def verify(self, request: base.InboundRequest, secrets: Sequence[str], content: bytes) -> int:
        """`offered` then `matching_secret` for a vendor that signs one content."""
        return self.matching_secret(secrets, [content], self.offered(request))

    # -- computing (verification, and the simulators that sign as the vendor does) -----------

    def compute(self, secret: str | bytes, content: bytes) -> bytes:
        key = secret.encode("utf-8") if isinstance(secret, str) else secret
        return hmac.new(key, content, DIGESTS[self.algorithm]).digest()

    def encode(self, mac: bytes) -> str:
        return mac.hex() if self.encoding == "hex" else base64.b64encode(mac).decode("ascii")

    def decode(self, encoded: bytes) -> bytes | None:
        if self.encoding == "hex":
            if not HEX.fullmatch(encoded) or len(encoded) % 2:
                return None
            return bytes.fromhex(encoded.decode("ascii"))
        if not BASE64.fullmatch(encoded):
            return None
        try:
            return base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return None

    def header_value(self, secret: str | bytes, content: bytes) -> str:
        """The header's value as the vendor writes it (one element)."""
        return self.prefix + self.encode(self.compute(secret, content))


class HmacVerified(base.VendorHandler):
    """The verification role of a vendor that signs with one `HmacSignature`: it declares
    `signature` (its header becomes `signature_headers`) and, if it signs more than the body,
    `signed_content`; every configured secret is tried, the index of the one that matched kept."""

    signature: ClassVar[HmacSignature]

    @override
    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "signature" in cls.__dict__ and "signature_headers" not in cls.__dict__:
            cls.signature_headers = (cls.signature.header,)

    def signed_content(self, check: base.Verification) -> bytes:
        return check.request.body

    @override
    def verify(self, check: base.Verification) -> base.Verdict:
        secrets, content = check.source.secrets, self.signed_content(check)
        return base.Verdict(secret_index=self.signature.verify(check.request, secrets, content))
