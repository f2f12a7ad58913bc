"""PayPal: SHA256withRSA over 'id|time|webhook_id|crc32(body)' with PayPal's certificate.

The documented example is the one in PayPal's Python SDK (`paypalrestsdk` test and sample
`verify_webhook_events.py`): a real sandbox delivery of 2015-05-18, checked here against the
certificate PayPal served at its `PAYPAL-CERT-URL` then, as recorded in PayPal's Node SDK test
mocks (`test/mocks/notification.js`). Everything else uses certificates made in the test.
"""

from __future__ import annotations

import base64
import json
import textwrap
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import ConfigError
from ingest.handlers.base import (
    Delivery,
    InvalidSignatureError,
    MalformedRequestError,
    MissingSignatureError,
    RejectedRequestError,
    TimestampOutOfToleranceError,
    Verification,
)
from ingest.handlers.paypal import (
    LOCAL_CERT_URL,
    PayPalHandler,
    PayPalOptions,
    acceptable_cert_url,
    signed_string,
)
from ingest.schemas.passthrough import VendorPassthrough
from ingest.schemas.payments import (
    PaymentDisputed,
    PaymentFailed,
    PaymentRefunded,
    PaymentSucceeded,
    SubscriptionCanceled,
    SubscriptionCreated,
    SubscriptionUpdated,
)
from ingest.simulation import simulator
from ingest.simulation.base import SigningContext
from ingest.sources import RawOptions, SourceConfig
from tests.handlers.contract import HOSTILE_VALUES
from tests.handlers.kit import identify, request

handler = PayPalHandler()

# -- PayPal's documented example ------------------------------------------------------------

DOC_BODY = (
    b'{"id":"WH-0G2756385H040842W-5Y612302CV158622M","create_time":"2015-05-18T15:45:13Z",'
    b'"resource_type":"sale","event_type":"PAYMENT.SALE.COMPLETED","summary":"Payment completed '
    b'for $ 20.0 USD","resource":{"id":"4EU7004268015634R","create_time":"2015-05-18T15:44:02Z",'
    b'"update_time":"2015-05-18T15:44:21Z","amount":{"total":"20.00","currency":"USD"},'
    b'"payment_mode":"INSTANT_TRANSFER","state":"completed","protection_eligibility":"ELIGIBLE",'
    b'"protection_eligibility_type":"ITEM_NOT_RECEIVED_ELIGIBLE,UNAUTHORIZED_PAYMENT_ELIGIBLE",'
    b'"parent_payment":"PAY-86C81811X5228590KKVNARQQ","transaction_fee":{"value":"0.88",'
    b'"currency":"USD"},"links":[{"href":"https://api.sandbox.paypal.com/v1/payments/sale/'
    b'4EU7004268015634R","rel":"self","method":"GET"},{"href":"https://api.sandbox.paypal.com/'
    b'v1/payments/sale/4EU7004268015634R/refund","rel":"refund","method":"POST"},{"href":'
    b'"https://api.sandbox.paypal.com/v1/payments/payment/PAY-86C81811X5228590KKVNARQQ",'
    b'"rel":"parent_payment","method":"GET"}]},"links":[{"href":"https://api.sandbox.paypal.com/'
    b'v1/notifications/webhooks-events/WH-0G2756385H040842W-5Y612302CV158622M","rel":"self",'
    b'"method":"GET"},{"href":"https://api.sandbox.paypal.com/v1/notifications/webhooks-events/'
    b'WH-0G2756385H040842W-5Y612302CV158622M/resend","rel":"resend","method":"POST"}]}'
)
DOC_HEADERS = {
    "PAYPAL-TRANSMISSION-ID": "dfb3be50-fd74-11e4-8bf3-77339302725b",
    "PAYPAL-TRANSMISSION-TIME": "2015-05-18T15:45:13Z",
    "PAYPAL-TRANSMISSION-SIG": (
        "thy4/U002quzxFavHPwbfJGcc46E8rc5jzgyeafWm5mICTBdY/8rl7WJpn8JA0GKA+oDTPsSruqusw+XXg5RLAP7"
        "ip53Euh9Xu3UbUhQFX7UgwzE2FeYoY6lyRMiiiQLzy9BvHfIzNIVhPad4KnC339dr6y2l+mN8ALgI4GCdIh3/SoJ"
        "O5wE64Bh/ueWtt8EVuvsvXfda2Le5a2TrOI9vLEzsm9GS79hAR/5oLexNz8UiZr045Mr5ObroH4w4oNfmkTaDk9Rj"
        "0G19uvISs5QzgmBpauKr7Nw++JI0pr/v5mFctQkoWJSGfBGzPRXawrvIIVHQ9Wer48GR2g9ZiApWg=="
    ),
    "PAYPAL-CERT-URL": (
        "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77"
    ),
    "PAYPAL-AUTH-ALGO": "SHA256withRSA",
}
DOC_WEBHOOK_ID = "4JH86294D6297924G"
DOC_NOW = datetime(2015, 5, 18, 15, 45, 13, tzinfo=UTC).timestamp()
PAYPAL_SANDBOX_CERTIFICATE = """\
-----BEGIN CERTIFICATE-----
MIIHqDCCBpCgAwIBAgIQCSVMkxB1Kw9SPZtpAr3lTDANBgkqhkiG9w0BAQsFADB1
MQswCQYDVQQGEwJVUzEVMBMGA1UEChMMRGlnaUNlcnQgSW5jMRkwFwYDVQQLExB3
d3cuZGlnaWNlcnQuY29tMTQwMgYDVQQDEytEaWdpQ2VydCBTSEEyIEV4dGVuZGVk
IFZhbGlkYXRpb24gU2VydmVyIENBMB4XDTE1MDMxODAwMDAwMFoXDTE3MDMyMjEy
MDAwMFowggElMR0wGwYDVQQPDBRQcml2YXRlIE9yZ2FuaXphdGlvbjETMBEGCysG
AQQBgjc8AgEDEwJVUzEZMBcGCysGAQQBgjc8AgECEwhEZWxhd2FyZTEQMA4GA1UE
BRMHMzAxNDI2NzEWMBQGA1UECRMNMjIxMSBOIDFzdCBTdDEOMAwGA1UEERMFOTUx
MzExCzAJBgNVBAYTAlVTMRMwEQYDVQQIEwpDYWxpZm9ybmlhMREwDwYDVQQHEwhT
YW4gSm9zZTEVMBMGA1UEChMMUGF5UGFsLCBJbmMuMRgwFgYDVQQLEw9QYXJ0bmVy
IFN1cHBvcnQxNDAyBgNVBAMTK21lc3NhZ2V2ZXJpZmljYXRpb25jZXJ0cy5zYW5k
Ym94LnBheXBhbC5jb20wggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQDI
XgwJj1E+vPOLNA7e3nFsRpQq7G1CFcoCNeRgFIGRfd4itt2jBRPfHXf1eeXODQ6V
wTMP6rVYrI3HBQu5SZRZKO3gALPiBWTcz5FhVovYDz/d/DtasA5L7l1xmRM+GGPE
e/D3ETPeyym6GTAuIzR1ju1BuSQlVnIrcILDHrFZo0RyqFH1eNL3oYfgz+ZCv+WH
65rhS60VowiLAb2lsARckJ2P8wKIps3YUxAqVG5SJ9H49ueBDI01wEzE/+59J8s9
GThmbMTqP6x4MneAcGN1TPimGd9wZlbwwrCYDtCoqFDcxMVgvD83uPrIinFwTIOX
w63QSv8/+ANuawBcNJDrAgMBAAGjggOAMIIDfDAfBgNVHSMEGDAWgBQ901Cl1qCt
7vNKYApl0yHU+PjWDzAdBgNVHQ4EFgQUt5yLggZOjjfzULzZCgX2KZO3R/gwNgYD
VR0RBC8wLYIrbWVzc2FnZXZlcmlmaWNhdGlvbmNlcnRzLnNhbmRib3gucGF5cGFs
LmNvbTAOBgNVHQ8BAf8EBAMCBaAwHQYDVR0lBBYwFAYIKwYBBQUHAwEGCCsGAQUF
BwMCMHUGA1UdHwRuMGwwNKAyoDCGLmh0dHA6Ly9jcmwzLmRpZ2ljZXJ0LmNvbS9z
aGEyLWV2LXNlcnZlci1nMS5jcmwwNKAyoDCGLmh0dHA6Ly9jcmw0LmRpZ2ljZXJ0
LmNvbS9zaGEyLWV2LXNlcnZlci1nMS5jcmwwQgYDVR0gBDswOTA3BglghkgBhv1s
AgEwKjAoBggrBgEFBQcCARYcaHR0cHM6Ly93d3cuZGlnaWNlcnQuY29tL0NQUzCB
iAYIKwYBBQUHAQEEfDB6MCQGCCsGAQUFBzABhhhodHRwOi8vb2NzcC5kaWdpY2Vy
dC5jb20wUgYIKwYBBQUHMAKGRmh0dHA6Ly9jYWNlcnRzLmRpZ2ljZXJ0LmNvbS9E
aWdpQ2VydFNIQTJFeHRlbmRlZFZhbGlkYXRpb25TZXJ2ZXJDQS5jcnQwDAYDVR0T
AQH/BAIwADCCAX0GCisGAQQB1nkCBAIEggFtBIIBaQFnAHUApLkJkLQYWBSHuxOi
zGdwCjw1mAT5G9+443fNDsgN3BAAAAFMLovtNgAABAMARjBEAiBTR7r3p76qUJzF
23lsbD/cLsA0KlxoJRSIvIK0OIYWiQIgVQWja8tWBlpcoFP30Iym7IuczitSazpH
fhKAVroTgXgAdgBo9pj4H2SCvjqM7rkoHUz8cVFdZ5PURNEKZ6y7T0/7xAAAAUwu
i+z4AAAEAwBHMEUCIEP3VYyLQB7lOgFo4WstyOurmRe3xa0OVaeFL/bDohHOAiEA
+xQrRVAfaeT4qBdBJzLyVLU4V9bh/qBMXJdjvYujhAcAdgBWFAaaL9fC7NP14b1E
sj7HRna5vJkRXMDvlJhV1onQ3QAAAUwui+6EAAAEAwBHMEUCIQC/YUc5X6xyb3ho
o4VMSJqSoNg9KKkvLh9nUQCdwHi3/QIgNwcBc9ZZCR/aWXQ7hKH6d39kpkDX2Z43
XPy/Kl5sKI4wDQYJKoZIhvcNAQELBQADggEBAHixEZNpb0M1MsvsfNI6lLKxrs9s
JkcBcmxrFyhTC8KP+Qp+Z1fnMRQwpTLIMr1+uAMqCPAnIShGHeFNJpUFSMyW4o0l
+pZGz/L/YJBs7XP3ChSGC17ZKeGSQFfMqMQXfY/L6+n/1HkAwqmewqUMEuUmWN3F
kXJqVngIYGZtxXRyiv2azLOhrNP8BgNZK6d2gVxntQfGr4hnd8Juq8SJy/S4xpPY
YPD8vW7/wSOdAe1/kU38QwDVBQ5PJePS2WFwz8YA/eKcyg9lfsianfw35SjehJbn
wGwzUbjtibyJnv3eAeYDGxaI6vbuoE99pSmYGIwSBLJwZamJHjci6HL6wLg=
-----END CERTIFICATE-----
"""
DOC_DOCUMENTS = {DOC_HEADERS["PAYPAL-CERT-URL"]: PAYPAL_SANDBOX_CERTIFICATE.encode()}


def doc_source(webhook_id: str = DOC_WEBHOOK_ID) -> SourceConfig:
    return handler.check_config(
        SourceConfig(
            name="paypal", vendor="paypal", options=RawOptions.of({"webhook_id": webhook_id})
        )
    )


def test_documented_example_verifies_with_paypals_certificate() -> None:
    verdict = handler.verify(
        Verification(request(DOC_BODY, DOC_HEADERS), doc_source(), DOC_NOW, DOC_DOCUMENTS)
    )
    assert verdict.secret_index == 0
    assert verdict.signed_at == int(DOC_NOW)


def test_documented_signed_string_matches_the_sdk_test() -> None:
    crc = zlib.crc32(DOC_BODY) & 0xFFFFFFFF
    assert (
        signed_string(
            DOC_HEADERS["PAYPAL-TRANSMISSION-ID"], "2015-05-18T15:45:13Z", DOC_WEBHOOK_ID, DOC_BODY
        )
        == f"dfb3be50-fd74-11e4-8bf3-77339302725b|2015-05-18T15:45:13Z|4JH86294D6297924G|{crc}"
    )


@pytest.mark.parametrize(
    ("body", "webhook_id", "headers"),
    [
        (DOC_BODY.replace(b"20.00", b"2000.00"), DOC_WEBHOOK_ID, {}),  # CRC of the body changes
        (DOC_BODY + b" ", DOC_WEBHOOK_ID, {}),
        (DOC_BODY, "4JH86294D6297924H", {}),  # someone else's webhook
        (
            DOC_BODY,
            DOC_WEBHOOK_ID,
            {"PAYPAL-TRANSMISSION-ID": "dfb3be50-fd74-11e4-8bf3-77339302725c"},
        ),
        (DOC_BODY, DOC_WEBHOOK_ID, {"PAYPAL-TRANSMISSION-TIME": "2015-05-18T15:45:14Z"}),
    ],
)
def test_documented_example_tampered_is_rejected(
    body: bytes, webhook_id: str, headers: dict[str, str]
) -> None:
    with pytest.raises(InvalidSignatureError):
        handler.verify(
            Verification(request(body, {**DOC_HEADERS, **headers}), doc_source(webhook_id), DOC_NOW,
            DOC_DOCUMENTS),
        )  # fmt: skip


def test_documented_certificate_has_since_expired() -> None:
    """The same delivery replayed today: the time is stale and the certificate long expired."""
    later = datetime(2018, 1, 1, tzinfo=UTC).timestamp()
    wide = SourceConfig(
        name="paypal", vendor="paypal", tolerance_seconds=10**9,
        options=RawOptions.of({"webhook_id": DOC_WEBHOOK_ID}),
    )  # fmt: skip
    with pytest.raises(InvalidSignatureError, match="expired"):
        handler.verify(Verification(request(DOC_BODY, DOC_HEADERS), wide, later, DOC_DOCUMENTS))


# -- certificates made in the test -------------------------------------------------------------

WEBHOOK_ID = "8PT597110X687430LKGECATA"
CERT_URL = "https://api-m.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-35c2474e"
NOW = 1_700_000_000
PAYPAL_NAME = "messageverificationcerts.sandbox.paypal.com"


def make_certificate(
    key: Any,
    *,
    name: str = PAYPAL_NAME,
    not_before: float = NOW - 86_400,
    not_after: float = NOW + 86_400 * 365,
    issuer_key: rsa.RSAPrivateKey | None = None,
) -> bytes:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer if issuer_key else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.fromtimestamp(not_before, tz=UTC))
        .not_valid_after(datetime.fromtimestamp(not_after, tz=UTC))
        .sign(issuer_key or key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
CA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
# Issued by a test CA, as PayPal's are by DigiCert: leaf first, then the CA, as PayPal serves it.
CHAIN = make_certificate(KEY, issuer_key=CA_KEY) + make_certificate(CA_KEY, name="Test CA")
DOCUMENTS = {CERT_URL: CHAIN}
BODY = simulator(handler).sample("PAYMENT.CAPTURE.COMPLETED")


def source(**options: Any) -> SourceConfig:
    return handler.check_config(
        SourceConfig(
            name="paypal",
            vendor="paypal",
            options=RawOptions.of({"webhook_id": WEBHOOK_ID, **options}),
        )
    )


def sign(
    body: bytes,
    *,
    key: rsa.RSAPrivateKey = KEY,
    webhook_id: str = WEBHOOK_ID,
    at: float = NOW,
    transmission_id: str = "b2d7b1e0-a2c1-11ec-b909-0242ac120002",
    cert_url: str = CERT_URL,
) -> dict[str, str]:
    """The headers PayPal sends, signed as PayPal signs (independently of the handler's signer)."""
    time = datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    message = f"{transmission_id}|{time}|{webhook_id}|{zlib.crc32(body)}".encode()
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return {
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
        "PAYPAL-CERT-URL": cert_url,
        "PAYPAL-TRANSMISSION-ID": transmission_id,
        "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode(),
        "PAYPAL-TRANSMISSION-TIME": time,
    }


def check(
    headers: Mapping[str, str],
    *,
    body: bytes = BODY,
    config: SourceConfig | None = None,
    now: float = NOW,
    documents: Mapping[str, bytes] | None = None,
) -> int:
    verdict = handler.verify(
        Verification(
            request(body, headers),
            config or source(),
            now,
            DOCUMENTS if documents is None else documents,
        ),
    )
    return verdict.secret_index


def test_valid_delivery_is_accepted() -> None:
    assert check(sign(BODY)) == 0
    assert handler.documents(request(BODY, sign(BODY))) == [CERT_URL]


def test_signature_by_another_key_is_rejected() -> None:
    with pytest.raises(InvalidSignatureError):
        check(sign(BODY, key=OTHER_KEY))


def test_wrong_webhook_id_is_rejected() -> None:
    with pytest.raises(InvalidSignatureError):
        check(sign(BODY, webhook_id="5GP028458E2496506"))


def test_body_tampering_changes_the_crc_and_is_rejected() -> None:
    headers = sign(BODY)
    with pytest.raises(InvalidSignatureError):
        check(headers, body=BODY.replace(b"10.99", b"99.99"))


def test_limitation_a_body_with_the_same_crc32_verifies() -> None:
    """PayPal signs the CRC-32 of the body, not a hash: CRC-32 is affine, so four chosen bytes
    give any body the CRC of a signed one. A captured delivery could be re-sent with another body
    within the tolerance. This pins the limitation documented in docs/vendors/paypal.md; it is
    PayPal's scheme, and no check on our side can tell the two bodies apart."""
    forged = _same_crc32(BODY + b"      ")
    assert forged != BODY
    assert zlib.crc32(forged) == zlib.crc32(BODY)
    assert check(sign(BODY), body=forged) == 0


def _same_crc32(prefix: bytes) -> bytes:
    """`prefix` + 4 bytes whose CRC-32 equals BODY's: solve the linear system over GF(2)."""
    zero = zlib.crc32(prefix + bytes(4))
    # crc(prefix + x) = zero XOR L(x), with L linear in the 32 bits of x.
    rows = [(zlib.crc32(prefix + (1 << i).to_bytes(4, "little")) ^ zero, 1 << i) for i in range(32)]
    want, solution = zlib.crc32(BODY) ^ zero, 0
    for bit in range(31, -1, -1):
        pivot = next((row for row in rows if row[0] >> bit & 1), None)
        if pivot is None:
            continue
        rows.remove(pivot)
        rows = [(r[0] ^ pivot[0], r[1] ^ pivot[1]) if r[0] >> bit & 1 else r for r in rows]
        if want >> bit & 1:
            want ^= pivot[0]
            solution ^= pivot[1]
    assert want == 0
    return prefix + solution.to_bytes(4, "little")


def test_a_self_signed_paypal_named_certificate_is_accepted_too() -> None:
    """No chain check (see the module docstring): where the certificate came from vouches."""
    documents = {CERT_URL: make_certificate(KEY)}
    assert check(sign(BODY), documents=documents) == 0


@pytest.mark.parametrize(
    ("certificate", "match"),
    [
        (make_certificate(KEY, not_after=NOW - 1), "expired"),
        (make_certificate(KEY, not_before=NOW + 60), "not yet valid"),
        (make_certificate(KEY, name="messageverificationcerts.paypal.com.evil.example"), "paypal"),
        (make_certificate(KEY, name="notpaypal.com"), "paypal"),
        (make_certificate(ec.generate_private_key(ec.SECP256R1())), "RSA"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "read"),
        (b"not a certificate", "read"),
    ],
)
def test_unusable_certificates_are_rejected(certificate: bytes, match: str) -> None:
    with pytest.raises(InvalidSignatureError, match=match):
        check(sign(BODY), documents={CERT_URL: certificate})


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/v1/notifications/certs/CERT-1",
        "https://api.paypal.com.evil.example/v1/notifications/certs/CERT-1",
        "https://paypal.com/v1/notifications/certs/CERT-1",
        "https://www.paypal.com/v1/notifications/certs/CERT-1",
        "http://api.paypal.com/v1/notifications/certs/CERT-1",
        "https://api.paypal.com:8443/v1/notifications/certs/CERT-1",
        "https://user@api.paypal.com/v1/notifications/certs/CERT-1",
        "https://api.paypal.com/v1/oauth2/token",
        "https://api.paypal.com/v1/notifications/certs/CERT-1?x=https://evil.example",
        "https://api.paypal.com./v1/notifications/certs/CERT-1",
        "https://169.254.169.254/v1/notifications/certs/CERT-1",
        "file:///etc/passwd",
        "https://api.paypal.com/v1/notifications/certs/" + "A" * 500,
    ],
)
def test_certificate_urls_off_paypal_are_refused_and_never_fetched(url: str) -> None:
    headers = sign(BODY, cert_url=url)
    assert not acceptable_cert_url(url)
    assert handler.documents(request(BODY, headers)) == []
    # Even if a certificate for it were somehow supplied, the URL alone refuses the request.
    with pytest.raises(InvalidSignatureError, match="PayPal certificate URL"):
        check(headers, documents={url: CHAIN})


@pytest.mark.parametrize(
    "url",
    [
        "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-df8cd2d5",
        "https://api-m.paypal.com/v1/notifications/certs/CERT-1",
        "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-1",
        "https://API-M.SANDBOX.PAYPAL.COM/v1/notifications/certs/CERT-1",
    ],
)
def test_paypal_certificate_urls_are_fetched(url: str) -> None:
    assert acceptable_cert_url(url)
    headers = sign(BODY, cert_url=url)
    assert handler.documents(request(BODY, headers)) == [url]
    assert check(headers, documents={url: CHAIN}) == 0


def test_certificate_of_another_url_is_not_used() -> None:
    headers = sign(BODY, cert_url="https://api.paypal.com/v1/notifications/certs/CERT-2")
    with pytest.raises(InvalidSignatureError):
        check(headers)  # DOCUMENTS holds CERT_URL only


@pytest.mark.parametrize("skew", [-301, 301, -86_400])
def test_transmission_time_outside_tolerance(skew: int) -> None:
    with pytest.raises(TimestampOutOfToleranceError):
        check(sign(BODY, at=NOW + skew))


def test_configured_tolerance_wins() -> None:
    strict = SourceConfig(
        name="paypal",
        vendor="paypal",
        tolerance_seconds=10,
        options=RawOptions.of({"webhook_id": WEBHOOK_ID}),
    )
    with pytest.raises(TimestampOutOfToleranceError):
        check(sign(BODY, at=NOW - 11), config=strict)
    assert check(sign(BODY, at=NOW - 9), config=strict) == 0


@pytest.mark.parametrize(
    "time", ["2023-11-14T22:13:20.000Z", "2023-11-14T23:13:20+01:00", "2023-11-14T22:13:20.5Z"]
)
def test_rfc3339_variants_are_read_and_signed_verbatim(time: str) -> None:
    headers = sign(BODY)
    message = f"{headers['PAYPAL-TRANSMISSION-ID']}|{time}|{WEBHOOK_ID}|{zlib.crc32(BODY)}"
    signature = KEY.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    headers |= {
        "PAYPAL-TRANSMISSION-TIME": time,
        "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode(),
    }
    assert check(headers) == 0


@pytest.mark.parametrize(
    "time",
    ["1700000000", "2023-11-14 22:13:20Z", "2023-11-14T22:13:20", "2023-13-45T22:13:20Z",
     "0001-01-01T00:00:00+23:59", "2023-11-14T22:13:20Z\u0660"],
)  # fmt: skip
def test_malformed_transmission_time_is_rejected(time: str) -> None:
    with pytest.raises((InvalidSignatureError, TimestampOutOfToleranceError)):
        check({**sign(BODY), "PAYPAL-TRANSMISSION-TIME": time})


def test_other_algorithms_are_refused() -> None:
    with pytest.raises(InvalidSignatureError, match="SHA256withRSA"):
        check({**sign(BODY), "PAYPAL-AUTH-ALGO": "SHA1withRSA"})
    headers = sign(BODY)
    del headers["PAYPAL-AUTH-ALGO"]  # PayPal's SDK defaults to SHA-256 when it is absent
    assert check(headers) == 0


def test_separator_in_transmission_id_is_refused() -> None:
    with pytest.raises(InvalidSignatureError):
        check(sign(BODY, transmission_id="a|2023-11-14T22:13:20Z"))


@pytest.mark.parametrize(
    "header",
    ["PAYPAL-TRANSMISSION-SIG", "PAYPAL-TRANSMISSION-ID", "PAYPAL-TRANSMISSION-TIME",
     "PAYPAL-CERT-URL"],
)  # fmt: skip
def test_missing_headers(header: str) -> None:
    headers = sign(BODY)
    del headers[header]
    with pytest.raises(MissingSignatureError):
        check(headers)


@pytest.mark.parametrize("header", PayPalHandler.signature_headers)
@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_malformed_headers_are_rejected_not_crashed(header: str, value: str) -> None:
    with pytest.raises(RejectedRequestError) as caught:
        check({**sign(BODY), header: value})
    assert caught.value.status in (400, 401)


@settings(max_examples=200, deadline=None)
@given(
    values=st.dictionaries(
        st.sampled_from([name.lower() for name in PayPalHandler.signature_headers]),
        st.text(max_size=120),
    ),
    body=st.binary(max_size=256),
)
def test_random_headers_and_bodies_only_ever_reject(values: dict[str, str], body: bytes) -> None:
    headers = {**{k.lower(): v for k, v in sign(BODY).items()}, **values}
    with pytest.raises(RejectedRequestError):
        handler.verify(Verification(request(body, headers), source(), NOW, DOCUMENTS))


@settings(max_examples=100, deadline=None)
@given(document=st.binary(max_size=2048))
def test_random_certificate_documents_only_ever_reject(document: bytes) -> None:
    with pytest.raises(RejectedRequestError):
        check(sign(BODY), documents={CERT_URL: document})


# -- configuration, local keys and signing ---------------------------------------------------


def test_config_needs_a_webhook_id_and_no_secrets(tmp_path: Path) -> None:
    for options in ({}, {"webhook_id": "has spaces"}, {"webhook_id": "A" * 51}, {"webhok_id": "A"}):
        with pytest.raises(ConfigError):
            handler.check_config(
                SourceConfig(name="pp", vendor="paypal", options=RawOptions.of(options))
            )
    with pytest.raises(ConfigError, match="secrets"):
        handler.check_config(
            SourceConfig(name="pp", vendor="paypal", secrets=(WEBHOOK_ID,),
                         options=RawOptions.of({"webhook_id": WEBHOOK_ID}))
        )  # fmt: skip


def test_pinned_certificates_must_be_paypal_urls_and_readable_pem(tmp_path: Path) -> None:
    pem = tmp_path / "cert.pem"
    pem.write_bytes(CHAIN)
    checked = source(certificates={CERT_URL: str(pem)})
    assert handler.options(checked, PayPalOptions).certificates == {CERT_URL: str(pem)}
    junk = tmp_path / "junk.pem"
    junk.write_text("junk")
    for certificates in (
        {"https://evil.example/v1/notifications/certs/X": str(pem)},
        {CERT_URL: str(tmp_path / "missing.pem")},
        {CERT_URL: str(junk)},
    ):
        with pytest.raises(ConfigError):
            source(certificates=certificates)


def test_generated_keys_sign_what_verification_accepts(tmp_path: Path) -> None:
    snippet = simulator(handler).generate_keys(tmp_path)
    options = yaml.safe_load(textwrap.dedent(snippet))
    assert options.pop("vendor") == "paypal"
    assert options["certificates"] == {LOCAL_CERT_URL: str(tmp_path.resolve() / "paypal/cert.pem")}
    assert (tmp_path / "paypal/key.pem").stat().st_mode & 0o077 == 0
    config = handler.check_config(
        SourceConfig(name="paypal", vendor="paypal", options=RawOptions.of(options))
    )
    body = simulator(handler).sample("PAYMENT.CAPTURE.COMPLETED")
    now = datetime.now(UTC).timestamp()
    context = SigningContext(source=config, url="http://127.0.0.1:8000/webhooks/paypal",
                             key_dir=tmp_path)  # fmt: skip
    signed = simulator(handler).sign(body, context, now)
    assert signed.url == context.url
    assert signed.headers["PAYPAL-CERT-URL"] == LOCAL_CERT_URL
    inbound = request(signed.body, signed.headers)
    [url] = handler.documents(inbound)
    documents = {url: Path(options["certificates"][url]).read_bytes()}
    assert handler.verify(Verification(inbound, config, now, documents)).signed_at == int(now)
    with pytest.raises(InvalidSignatureError):  # another webhook id: another subscription
        handler.verify(Verification(inbound, doc_source(), now, documents))


def test_signing_without_generated_keys_says_what_to_run(tmp_path: Path) -> None:
    context = SigningContext(source=source(), url="http://x", key_dir=tmp_path)
    with pytest.raises(ConfigError, match="ingest keys generate paypal"):
        simulator(handler).sign(BODY, context, NOW)


# -- identify and normalize ---------------------------------------------------------------------


def test_identify_uses_the_event_id_and_type() -> None:
    identity = identify(handler, DOC_BODY, {})
    assert identity.event_id == "WH-0G2756385H040842W-5Y612302CV158622M"
    assert identity.event_type == "PAYMENT.SALE.COMPLETED"
    with pytest.raises(MalformedRequestError):
        identify(handler, b'{"event_type": "PAYMENT.CAPTURE.COMPLETED"}', {})


def delivery(body: bytes) -> Delivery:
    event = json.loads(body)
    return Delivery("paypal", "paypal", event["id"], event["event_type"], body, datetime.now(UTC))


def with_resource(event_type: str, **changes: Any) -> bytes:
    event = json.loads(simulator(handler).sample(event_type))
    event["resource"].update(changes)
    return json.dumps(event).encode()


def test_capture_completed_is_payment_succeeded() -> None:
    event = json.loads(BODY)
    [emitted] = handler.normalize(delivery(BODY))
    assert emitted.type == "payment.succeeded"
    assert isinstance(emitted.data, PaymentSucceeded)
    assert emitted.data.provider == "paypal"
    assert emitted.data.payment_id == event["resource"]["id"] == emitted.key
    assert emitted.data.amount.amount_minor == 1099  # "10.99" USD
    assert emitted.data.amount.currency == "USD"
    assert (
        emitted.data.order_id == event["resource"]["supplementary_data"]["related_ids"]["order_id"]
    )
    assert emitted.data.metadata == {"custom_id": event["resource"]["custom_id"]}
    assert emitted.time == datetime.fromisoformat(event["create_time"])


@pytest.mark.parametrize(
    ("value", "currency", "minor"), [("1500", "JPY", 1500), ("1.250", "KWD", 1250)]
)
def test_amounts_use_the_currency_exponent(value: str, currency: str, minor: int) -> None:
    body = with_resource(
        "PAYMENT.CAPTURE.COMPLETED", amount={"currency_code": currency, "value": value}
    )
    [emitted] = handler.normalize(delivery(body))
    assert isinstance(emitted.data, PaymentSucceeded)
    assert emitted.data.amount.amount_minor == minor


def test_inexact_amount_raises_so_the_event_is_marked_failed() -> None:
    body = with_resource(
        "PAYMENT.CAPTURE.COMPLETED", amount={"currency_code": "JPY", "value": "10.5"}
    )
    with pytest.raises(ValueError, match="decimals"):
        handler.normalize(delivery(body))


@pytest.mark.parametrize("event_type", ["PAYMENT.CAPTURE.DENIED", "PAYMENT.CAPTURE.DECLINED"])
def test_denied_or_declined_capture_is_payment_failed(event_type: str) -> None:
    event = json.loads(simulator(handler).sample("PAYMENT.CAPTURE.DENIED"))
    event["event_type"] = event_type
    event["resource"]["status_details"] = {"reason": "PENDING_REVIEW"}
    [emitted] = handler.normalize(delivery(json.dumps(event).encode()))
    assert emitted.type == "payment.failed"
    assert isinstance(emitted.data, PaymentFailed)
    assert emitted.data.failure_code == "PENDING_REVIEW"


def test_refund_is_keyed_by_the_capture_it_links_up_to() -> None:
    body = simulator(handler).sample("PAYMENT.CAPTURE.REFUNDED")
    refund = json.loads(body)["resource"]
    capture_id = refund["links"][1]["href"].rsplit("/", 1)[1]
    [emitted] = handler.normalize(delivery(body))
    assert emitted.type == "payment.refunded"
    assert isinstance(emitted.data, PaymentRefunded)
    assert emitted.key == capture_id == emitted.data.payment_id
    assert emitted.data.refund_id == refund["id"]
    assert emitted.data.refund_amount is not None
    assert emitted.data.refund_amount.amount_minor == 1099
    assert emitted.data.fully_refunded is None
    with pytest.raises(ValueError, match="capture"):
        handler.normalize(delivery(with_resource("PAYMENT.CAPTURE.REFUNDED", links=[])))


def test_partial_refund_reports_the_total_refunded_so_far() -> None:
    body = with_resource(
        "PAYMENT.CAPTURE.REFUNDED",
        amount={"currency_code": "USD", "value": "2.00"},
        seller_payable_breakdown={
            "gross_amount": {"currency_code": "USD", "value": "2.00"},
            "total_refunded_amount": {"currency_code": "USD", "value": "5.00"},
        },
    )
    [emitted] = handler.normalize(delivery(body))
    assert isinstance(emitted.data, PaymentRefunded)
    assert emitted.data.amount.amount_minor == 500
    assert emitted.data.refund_amount is not None
    assert emitted.data.refund_amount.amount_minor == 200


def test_dispute_created_is_payment_disputed() -> None:
    body = simulator(handler).sample("CUSTOMER.DISPUTE.CREATED")
    dispute = json.loads(body)["resource"]
    [emitted] = handler.normalize(delivery(body))
    assert emitted.type == "payment.disputed"
    assert isinstance(emitted.data, PaymentDisputed)
    assert emitted.key == dispute["disputed_transactions"][0]["seller_transaction_id"]
    assert emitted.data.dispute_id == dispute["dispute_id"]
    assert emitted.data.reason == "MERCHANDISE_OR_SERVICE_NOT_RECEIVED"
    assert emitted.data.status == "OPEN"
    assert emitted.data.evidence_due_by is not None


@pytest.mark.parametrize(
    ("event_type", "model"),
    [
        ("BILLING.SUBSCRIPTION.CREATED", SubscriptionCreated),
        ("BILLING.SUBSCRIPTION.UPDATED", SubscriptionUpdated),
        ("BILLING.SUBSCRIPTION.CANCELLED", SubscriptionCanceled),
    ],
)
def test_subscriptions(event_type: str, model: type[Any]) -> None:
    body = simulator(handler).sample(event_type)
    resource = json.loads(body)["resource"]
    [emitted] = handler.normalize(delivery(body))
    assert isinstance(emitted.data, model)
    assert emitted.type == model.event_type
    assert emitted.key == resource["id"] == emitted.data.subscription_id
    assert emitted.data.plan_id == resource["plan_id"]
    assert emitted.data.customer_id == resource["subscriber"]["payer_id"]
    assert emitted.data.status == resource["status"]
    assert emitted.data.amount is None  # the price lives on the plan, not in the event
    assert emitted.data.current_period_end == datetime.fromisoformat(
        resource["billing_info"]["next_billing_time"]
    )
    assert (emitted.data.canceled_at is not None) == (model is SubscriptionCanceled)


def test_unmapped_types_pass_through() -> None:
    for body in (DOC_BODY, simulator(handler).sample("CHECKOUT.ORDER.APPROVED")):
        [emitted] = handler.normalize(delivery(body))
        assert emitted.type == f"paypal.{json.loads(body)['event_type']}"
        assert isinstance(emitted.data, VendorPassthrough)
        assert emitted.data.payload == json.loads(body)


def test_sample_ids_are_fresh() -> None:
    first, second = (json.loads(simulator(handler).sample(None)) for _ in range(2))
    assert first["event_type"] == "PAYMENT.CAPTURE.COMPLETED"
    assert first["id"] != second["id"]
    assert first["id"].startswith("WH-")


def test_timestamps_later_than_now_by_a_day_are_rejected() -> None:
    with pytest.raises(TimestampOutOfToleranceError):
        check(sign(BODY, at=NOW + timedelta(days=1).total_seconds()))
