"""RSA signatures checked with a vendor's X.509 signing certificate: the scheme of AWS SNS
(SHA1withRSA / SHA256withRSA over its string to sign) and PayPal (SHA256withRSA over
`id|time|webhook id|crc32`). What is signed, and which certificate URL may be trusted, stay the
vendor's; reading the certificate, its validity at `now`, its key and the signature check are
here, each failure a 401 `invalid_signature` naming the vendor, never a 500.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import SplitResult, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ingest.handlers import base


def plain_https(url: object, *, max_length: int = 2048) -> SplitResult | None:
    """`url` split, if a certificate (or a confirmation) may be fetched from it at all: a string
    of printable ASCII, https, the default port, no user or password; None otherwise, never an
    exception. Which hosts and paths are trusted stays the vendor's."""
    if not isinstance(url, str) or len(url) > max_length:
        return None
    if not url.isascii() or not url.isprintable() or " " in url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme != "https" or port not in (None, 443) or parts.username or parts.password:
        return None
    return parts


@lru_cache(maxsize=64)
def leaf(document: bytes) -> x509.Certificate | None:
    """The first (leaf) certificate of a PEM document. Cached: a vendor signs thousands of
    deliveries with one certificate, parsing it once is enough."""
    try:
        certificates = x509.load_pem_x509_certificates(document)
    except (ValueError, TypeError):
        return None
    return certificates[0] if certificates else None


def signing_certificate(document: bytes | None, now: float, vendor: str) -> x509.Certificate:
    """The certificate in `document` (the one fetched or pinned), valid at `now`."""
    certificate = leaf(document) if document is not None else None
    if certificate is None:
        raise base.InvalidSignatureError(f"{vendor}'s signing certificate could not be read")
    moment = datetime.fromtimestamp(now, tz=UTC)
    if not certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc:
        raise base.InvalidSignatureError(
            f"{vendor}'s signing certificate is expired or not yet valid"
        )
    return certificate


def decode_signature(encoded: object, max_length: int, what: str) -> bytes:
    """A base64 signature as sent; refused when absent, too long, or not strict base64."""
    if not isinstance(encoded, str) or not encoded or len(encoded) > max_length:
        raise base.InvalidSignatureError(f"{what} is missing or malformed")
    try:
        return base64.b64decode(encoded.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise base.InvalidSignatureError(f"{what} is not base64") from None


def verify_rsa(
    certificate: x509.Certificate,
    signature: bytes,
    message: bytes,
    algorithm: type[hashes.SHA1] | type[hashes.SHA256],
    vendor: str,
) -> None:
    """PKCS#1 v1.5 with the certificate's RSA key; InvalidSignatureError unless it verifies."""
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise base.InvalidSignatureError(f"{vendor}'s signing certificate does not hold an RSA key")
    try:
        public_key.verify(signature, message, padding.PKCS1v15(), algorithm())
    except (InvalidSignature, ValueError):
        raise base.InvalidSignatureError(f"{vendor} signature does not verify") from None
