"""Twilio over HTTP through the real app: the signed URL is the one the app sees
(`https://ingest.test/...` here) unless `public_url` says which URL Twilio was given."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from ingest.handlers.twilio import TwilioHandler
from ingest.simulation import simulator
from ingest.simulation.base import SigningContext
from ingest.sources import RawOptions, SourceConfig
from tests import support
from tests.ingest.conftest import AppFactory

handler = TwilioHandler()
TOKEN = "12345"
PUBLIC_URL = "https://hooks.example.com/twilio/status"
EXTRA = {
    "twilio": {"vendor": "twilio", "secrets": [TOKEN]},
    "twilio-proxied": {"vendor": "twilio", "secrets": [TOKEN], "public_url": PUBLIC_URL},
}


def signed_for(url: str, body: bytes, public_url: str | None = None) -> dict[str, str]:
    options = {"public_url": public_url} if public_url else {}
    source = handler.check_config(
        SourceConfig(name="t", vendor="twilio", secrets=(TOKEN,), options=RawOptions.of(options))
    )
    return (
        simulator(handler)
        .sign(body, SigningContext(source=source, url=url, secret=TOKEN), 0)
        .headers
    )


async def test_status_callback_is_published_once(
    make_app: AppFactory, kafka_bootstrap: str
) -> None:
    body = simulator(handler).sample("message.delivered")
    headers = signed_for("https://ingest.test/webhooks/twilio", body)
    async with make_app(EXTRA) as app:
        first = await app.client.post("/webhooks/twilio", content=body, headers=headers)
        assert first.status_code == 200, first.text
        assert first.json()["status"] == "accepted"
        again = await app.client.post("/webhooks/twilio", content=body, headers=headers)
        assert again.json() == {"status": "duplicate", "id": first.json()["id"]}
        records = await support.consume(kafka_bootstrap, [app.topics.default], expect=1)
    [cloudevent] = [json.loads(record.value) for record in records]
    sid = dict(parse_qsl(body.decode()))["MessageSid"]
    assert cloudevent["type"] == "messaging.message.delivered"
    assert cloudevent["data"]["message_id"] == sid
    assert records[0].key == sid.encode()


async def test_public_url_is_what_is_verified_behind_a_proxy(make_app: AppFactory) -> None:
    body = simulator(handler).sample("message.received")
    headers = signed_for("https://ingest.test/webhooks/twilio-proxied", body, PUBLIC_URL)
    async with make_app(EXTRA) as app:
        # The same request without public_url: the app's URL is not what Twilio signed.
        refused = await app.client.post("/webhooks/twilio", content=body, headers=headers)
        assert (refused.status_code, refused.json()["error"]) == (401, "invalid_signature")
        accepted = await app.client.post("/webhooks/twilio-proxied", content=body, headers=headers)
        assert accepted.status_code == 200, accepted.text
        # An incoming message is answered with empty TwiML ("no reply"), as Twilio expects.
        assert accepted.headers["content-type"].startswith("text/xml")
        assert accepted.text.endswith("<Response></Response>")


async def test_a_json_body_that_is_neither_an_event_nor_a_list_is_acked_and_published(
    make_app: AppFactory, kafka_bootstrap: str
) -> None:
    body = b'{"unexpected": ["shape"]}'
    source = handler.check_config(SourceConfig(name="t", vendor="twilio", secrets=(TOKEN,)))
    context = SigningContext(source=source, url="https://ingest.test/webhooks/twilio", secret=TOKEN)
    signed = simulator(handler).sign(body, context, 0)  # JSON: the URL carries bodySHA256
    async with make_app(EXTRA) as app:
        response = await app.client.post(signed.url, content=body, headers=signed.headers)
        assert response.status_code == 200, response.text
        again = await app.client.post(signed.url, content=body, headers=signed.headers)
        assert again.json() == {"status": "duplicate", "id": response.json()["id"]}
        records = await support.consume(kafka_bootstrap, [app.topics.default], expect=1)
    [cloudevent] = [json.loads(record.value) for record in records]
    assert cloudevent["type"] == "twilio.unknown"
    assert cloudevent["data"]["payload"] == {"unexpected": ["shape"]}
