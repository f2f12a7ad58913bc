"""The certificate scheme SNS and PayPal verify with: a certificate valid at `now`, its RSA key,
PKCS#1 v1.5 over the vendor's bytes; every failure a 401, never a 500."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from ingest.handlers.base import InvalidSignatureError
from ingest.handlers.schemes import certificate
from ingest.simulation import keys

KEY = keys.rsa_key()
ISSUED = datetime(2026, 1, 1, tzinfo=UTC)
PEM = keys.self_signed(KEY, "sns.amazonaws.com", not_before=ISSUED).public_bytes(
    serialization.Encoding.PEM
)
DURING = (ISSUED + timedelta(days=10)).timestamp()
MESSAGE = b"Message\nhello\nType\nNotification\n"


def signed(message: bytes = MESSAGE, algorithm: type[hashes.SHA256] = hashes.SHA256) -> bytes:
    return KEY.sign(message, padding.PKCS1v15(), algorithm())


def test_a_signature_made_with_the_certificates_key_verifies_with_either_digest() -> None:
    cert = certificate.signing_certificate(PEM, DURING, "SNS")
    certificate.verify_rsa(cert, signed(), MESSAGE, hashes.SHA256, "SNS")
    sha1 = KEY.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303 - SNS v1 is SHA-1
    certificate.verify_rsa(cert, sha1, MESSAGE, hashes.SHA1, "SNS")


@pytest.mark.parametrize(
    "now",
    [(ISSUED - timedelta(days=1)).timestamp(), (ISSUED + timedelta(days=400)).timestamp()],
    ids=["not-yet-valid", "expired"],
)
def test_a_certificate_is_used_only_within_its_validity(now: float) -> None:
    with pytest.raises(InvalidSignatureError, match="expired or not yet valid"):
        certificate.signing_certificate(PEM, now, "SNS")


@pytest.mark.parametrize("document", [None, b"", b"not a pem", b"-----BEGIN CERTIFICATE-----\n"])
def test_a_missing_or_unreadable_certificate_is_refused(document: bytes | None) -> None:
    with pytest.raises(InvalidSignatureError, match="could not be read"):
        certificate.signing_certificate(document, DURING, "PayPal")


def test_tampering_or_another_digest_does_not_verify() -> None:
    cert = certificate.signing_certificate(PEM, DURING, "SNS")
    cases: list[tuple[bytes, bytes, type[hashes.SHA1] | type[hashes.SHA256]]] = [
        (MESSAGE + b"x", signed(), hashes.SHA256),
        (MESSAGE, signed()[:-1] + b"\x00", hashes.SHA256),
        (MESSAGE, signed(), hashes.SHA1),
        (MESSAGE, b"", hashes.SHA256),
    ]
    for message, signature, algorithm in cases:
        with pytest.raises(InvalidSignatureError, match="does not verify"):
            certificate.verify_rsa(cert, signature, message, algorithm, "SNS")


def test_a_certificate_without_an_rsa_key_is_refused() -> None:
    from cryptography import x509  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    ec_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    ec_cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(ec_key.public_key())
        .serial_number(1)
        .not_valid_before(ISSUED)
        .not_valid_after(ISSUED + timedelta(days=365))
        .sign(ec_key, hashes.SHA256())
    )
    with pytest.raises(InvalidSignatureError, match="RSA"):
        certificate.verify_rsa(ec_cert, signed(), MESSAGE, hashes.SHA256, "SNS")


@pytest.mark.parametrize("encoded", [None, "", 5, "not base64!", "é" * 10, "A" * 5000])
def test_a_malformed_signature_is_refused(encoded: object) -> None:
    with pytest.raises(InvalidSignatureError):
        certificate.decode_signature(encoded, 2048, "Signature")


def test_a_base64_signature_decodes() -> None:
    assert certificate.decode_signature(base64.b64encode(b"sig").decode(), 2048, "Sig") == b"sig"


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem",
        "https://api.paypal.com:443/v1/notifications/certs/CERT-1",
        "https://host.example/path?query=1",
    ],
)
def test_a_plain_https_url_is_split(url: str) -> None:
    parts = certificate.plain_https(url)
    assert parts is not None
    assert parts.scheme == "https"


@pytest.mark.parametrize(
    "url",
    [
        None,
        42,
        "http://sns.us-east-1.amazonaws.com/cert.pem",
        "https://user:pw@sns.us-east-1.amazonaws.com/cert.pem",
        "https://user@sns.us-east-1.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com:8443/cert.pem",
        "https://sns.us-east-1.amazonaws.com:99999/cert.pem",
        "https://[::1/cert.pem",
        "https://sns.us-east-1.amazonaws.com/c\u00e9rt.pem",
        "https://sns.us-east-1.amazonaws.com/cert.pem\n",
        "https://sns.us-east-1.amazonaws.com/a b.pem",
        "https://sns.us-east-1.amazonaws.com/" + "a" * 2048,
    ],
)
def test_anything_else_is_none_never_an_exception(url: object) -> None:
    assert certificate.plain_https(url) is None
