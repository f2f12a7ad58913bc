"""`ingest.simulation.keys`: the local keys `ingest keys generate` writes for the asymmetric
schemes' simulators (SNS, PayPal, GCS, SendGrid).

A private key must never be readable by other users, not even for the instant between creating
the file and a chmod; a missing or wrong key must say which command makes it.
"""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ingest.errors import ConfigError
from ingest.simulation import keys


def test_a_private_key_is_created_owner_only_even_under_a_permissive_umask(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sns" / "signing.key"
    previous = os.umask(0)
    try:
        keys.write_private_key(path, keys.rsa_key())
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_written_key_reads_back_as_the_same_key(tmp_path: Path) -> None:
    rsa_path, ec_path = tmp_path / "rsa.key", tmp_path / "ec.key"
    key = keys.rsa_key()
    keys.write_private_key(rsa_path, key)
    keys.write_private_key(ec_path, ec.generate_private_key(ec.SECP256R1()))
    assert keys.read_rsa_key(rsa_path, "sns").private_numbers() == key.private_numbers()
    assert isinstance(keys.read_ec_key(ec_path, "sendgrid"), ec.EllipticCurvePrivateKey)


def test_a_missing_key_names_the_command_that_makes_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"run `ingest keys generate paypal` first"):
        keys.read_rsa_key(tmp_path / "absent.key", "paypal")
    garbage = tmp_path / "garbage.key"
    garbage.write_text("not a key")
    with pytest.raises(ConfigError, match=r"run `ingest keys generate gcs` first"):
        keys.read_rsa_key(garbage, "gcs")


def test_a_key_of_the_wrong_kind_is_refused_by_kind(tmp_path: Path) -> None:
    path = tmp_path / "ec.key"
    keys.write_private_key(path, ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(ConfigError, match="is not an RSA private key"):
        keys.read_rsa_key(path, "sns")
    rsa_path = tmp_path / "rsa.key"
    keys.write_private_key(rsa_path, keys.rsa_key())
    with pytest.raises(ConfigError, match="is not an ECDSA private key"):
        keys.read_ec_key(rsa_path, "sendgrid")


def test_a_stand_in_certificate_names_the_vendors_host_and_is_valid_now() -> None:
    """Valid from a few minutes ago: a verifier on a clock slightly behind still accepts it."""
    key = keys.rsa_key()
    certificate = keys.self_signed(key, "api.paypal.com", organization="PayPal, Inc.", days=30)
    subject = certificate.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "api.paypal.com"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "PayPal, Inc."
    assert certificate.issuer == subject
    now = datetime.now(UTC)
    assert now - timedelta(minutes=10) < certificate.not_valid_before_utc < now
    assert certificate.not_valid_after_utc - certificate.not_valid_before_utc == timedelta(days=30)


def test_a_certificate_round_trips_through_its_pem_file(tmp_path: Path) -> None:
    certificate = keys.self_signed(keys.rsa_key(), "sns.us-east-1.amazonaws.com")
    path = tmp_path / "cert.pem"
    keys.write_certificate(path, certificate)
    assert x509.load_pem_x509_certificate(path.read_bytes()) == certificate
