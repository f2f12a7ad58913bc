"""PayPal through the real app, PostgreSQL and Kafka: the certificate named in PAYPAL-CERT-URL is
fetched once through the allowlisted outbound client (a fake transport serving it at PayPal's
URL), cached for later deliveries, and a capture reaches Kafka as `payment.succeeded`."""

from __future__ import annotations

import base64
import json
import uuid
import zlib
from datetime import UTC, datetime, timedelta

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import func, select

from ingest.cloudevents import cloudevent_id
from ingest.handlers.paypal import PayPalHandler
from ingest.outbound import OutboundClient
from ingest.simulation import simulator
from ingest.tables import InboxEvent, OutboxEvent
from tests import support
from tests.ingest.conftest import App, AppFactory

WEBHOOK_ID = "1JE4291016473214C"
CERT_URL = "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-pipeline"
SOURCES = {"paypal": {"vendor": "paypal", "webhook_id": WEBHOOK_ID}}
handler = PayPalHandler()
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate() -> bytes:
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.paypal.com")]
    )
    now = datetime.now(UTC)
    built = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(KEY.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(KEY, hashes.SHA256())
    )
    return built.public_bytes(serialization.Encoding.PEM)


def paypal_headers(
    body: bytes, cert_url: str = CERT_URL, key: rsa.RSAPrivateKey = KEY
) -> dict[str, str]:
    """A transmission as PayPal makes one: a new id and time for every attempt."""
    transmission_id = str(uuid.uuid1())
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    message = f"{transmission_id}|{stamp}|{WEBHOOK_ID}|{zlib.crc32(body)}".encode()
    return {
        "Content-Type": "application/json",
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
        "PAYPAL-CERT-URL": cert_url,
        "PAYPAL-TRANSMISSION-ID": transmission_id,
        "PAYPAL-TRANSMISSION-SIG": base64.b64encode(
            key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        ).decode(),
        "PAYPAL-TRANSMISSION-TIME": stamp,
    }


async def counts(app: App) -> tuple[int, int]:
    async with app.store.engine.connect() as conn:
        inbox = (await conn.execute(select(func.count()).select_from(InboxEvent))).scalar_one()
        outbox = (await conn.execute(select(func.count()).select_from(OutboxEvent))).scalar_one()
    return inbox, outbox


async def test_certificate_fetched_once_and_capture_published(
    make_app: AppFactory, kafka_bootstrap: str
) -> None:
    pem = certificate()
    fetched: list[str] = []

    def paypal(request: httpx.Request) -> httpx.Response:
        fetched.append(str(request.url))
        if str(request.url) == CERT_URL:
            return httpx.Response(
                200, content=pem, headers={"content-type": "application/x-pem-file"}
            )
        return httpx.Response(404)

    outbound = OutboundClient(transport=httpx.MockTransport(paypal), attempts=1)
    capture = simulator(handler).sample("PAYMENT.CAPTURE.COMPLETED")
    refund = simulator(handler).sample("PAYMENT.CAPTURE.REFUNDED")
    async with make_app(SOURCES, outbound=outbound) as app:
        # A certificate URL off PayPal's hosts: refused before any connection is made.
        forged = await app.client.post(
            "/webhooks/paypal",
            content=capture,
            headers=paypal_headers(capture, "https://evil.example/v1/notifications/certs/X"),
        )
        assert (forged.status_code, forged.json()["error"]) == (401, "invalid_signature")
        # Signed by someone else's key, naming PayPal's certificate: fetched, and refused.
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        wrong = await app.client.post(
            "/webhooks/paypal", content=capture, headers=paypal_headers(capture, key=other_key)
        )
        assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_signature")
        assert await counts(app) == (0, 0)

        first = await app.client.post(
            "/webhooks/paypal", content=capture, headers=paypal_headers(capture)
        )
        assert first.status_code == 200, first.text
        assert first.json()["status"] == "accepted"
        # PayPal's retry: a new transmission of the same event.
        retry = await app.client.post(
            "/webhooks/paypal", content=capture, headers=paypal_headers(capture)
        )
        assert retry.json() == {"status": "duplicate", "id": first.json()["id"]}
        second = await app.client.post(
            "/webhooks/paypal", content=refund, headers=paypal_headers(refund)
        )
        assert second.json()["status"] == "accepted", second.text
        assert await counts(app) == (2, 2)
        assert fetched == [CERT_URL]  # once, then cached; the forged URL never fetched

        stored = await app.store.get_event(first.json()["id"])
        assert stored is not None
        assert stored.vendor_event_id == json.loads(capture)["id"]
        assert stored.vendor_event_type == "PAYMENT.CAPTURE.COMPLETED"
        assert stored.secret_index == 0

        records = await support.consume(kafka_bootstrap, [app.topics.payments], expect=2)

    assert len(records) == 2, [record.value for record in records]
    events = [json.loads(record.value) for record in records]
    by_type = {event["type"]: event for event in events}
    succeeded = by_type["payment.succeeded"]
    resource = json.loads(capture)["resource"]
    assert succeeded["source"] == "/sources/paypal"
    assert succeeded["vendor"] == "paypal"
    assert succeeded["id"] == cloudevent_id(
        "paypal", json.loads(capture)["id"], 0, "payment.succeeded"
    )
    assert succeeded["subject"] == resource["id"]
    assert succeeded["data"]["payment_id"] == resource["id"]
    assert succeeded["data"]["amount"] == {"amount_minor": 1099, "currency": "USD"}
    refunded = by_type["payment.refunded"]
    assert refunded["data"]["payment_id"] == refunded["subject"]
    assert {record.key for record in records} == {
        resource["id"].encode(),
        refunded["subject"].encode(),
    }
