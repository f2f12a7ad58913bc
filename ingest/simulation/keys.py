"""Local keys and certificates for the asymmetric schemes' simulators (SNS, PayPal, GCS,
SendGrid): made once by `ingest keys generate`, private keys written owner-only, read back by
`sign` with an error that says which command makes them."""

from __future__ import annotations

import datetime as dt
import os
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ingest.errors import ConfigError


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def self_signed(
    key: rsa.RSAPrivateKey,
    common_name: str,
    *,
    organization: str | None = None,
    not_before: datetime | None = None,
    days: int = 365,
) -> x509.Certificate:
    """A certificate standing in for a vendor's (it names the vendor's host, signs itself)."""
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    name = x509.Name(attributes)
    start = not_before or datetime.now(UTC) - dt.timedelta(minutes=5)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )


def write_private_key(path: Path, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> None:
    """PKCS#8 PEM, created owner-only (0600) rather than chmod-ed after it was readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)


def write_certificate(path: Path, certificate: x509.Certificate) -> None:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def read_rsa_key(path: Path, vendor: str) -> rsa.RSAPrivateKey:
    """The RSA key `ingest keys generate <vendor>` wrote (SNS, PayPal, GCS)."""
    key = _read(path, vendor)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"{path} is not an RSA private key")
    return key


def read_ec_key(path: Path, vendor: str) -> ec.EllipticCurvePrivateKey:
    """The ECDSA key `ingest keys generate <vendor>` wrote (SendGrid)."""
    key = _read(path, vendor)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigError(f"{path} is not an ECDSA private key")
    return key


def _read(path: Path, vendor: str) -> object:
    """A ConfigError naming the command that makes the key when it is missing or unreadable."""
    try:
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError):
        raise ConfigError(
            f"no {vendor} signing key at {path}; run `ingest keys generate {vendor}` first"
        ) from None
