"""AWS SNS through the real app and PostgreSQL: the certificate fetched from the SNS host, the
subscription confirmed once (or left to `ingest sns confirm`), handshakes never published."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from ingest.cli.sns import confirm_subscriptions
from ingest.handlers.aws_sns import LOCAL_CERT_URL, LOCAL_TOPIC_ARN, AwsSnsHandler
from ingest.outbound import OutboundClient
from ingest.simulation import simulator
from ingest.simulation.base import SigningContext
from ingest.sources import SourceConfig
from ingest.tables import OutboxEvent
from tests.ingest.conftest import App, AppFactory

handler = AwsSnsHandler()


class FakeSns:
    """SNS's hosts, faked: the signing certificate and the ConfirmSubscription endpoint."""

    def __init__(self, certificate: bytes) -> None:
        self.certificate = certificate
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if str(request.url) == LOCAL_CERT_URL:
            return httpx.Response(200, content=self.certificate)
        if request.url.params.get("Action") == "ConfirmSubscription":
            return httpx.Response(200, content=b"<ConfirmSubscriptionResponse/>")
        return httpx.Response(404)

    def urls(self) -> list[str]:
        return [str(r.url) for r in self.requests]

    def confirmations(self) -> int:
        return sum(r.url.params.get("Action") == "ConfirmSubscription" for r in self.requests)


def sources(auto_confirm: bool) -> dict[str, object]:
    return {
        "sns": {"vendor": "aws-sns", "topic_arns": [LOCAL_TOPIC_ARN], "auto_confirm": auto_confirm}
    }


def signed(key_dir: Path, event_type: str) -> bytes:
    source = SourceConfig(name="sns", vendor="aws-sns")
    context = SigningContext(source=source, url="https://ingest.test/webhooks/sns", key_dir=key_dir)
    return (
        simulator(handler)
        .sign(simulator(handler).sample(event_type), context, time.time(), event_type)
        .body
    )


async def post(app: App, body: bytes) -> dict[str, object]:
    response = await app.client.post(
        "/webhooks/sns", content=body, headers={"Content-Type": "text/plain; charset=UTF-8"}
    )
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


async def outbox_count(app: App) -> int:
    async with app.store.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(OutboxEvent))).scalar_one()


def fake(tmp_path: Path) -> tuple[FakeSns, OutboundClient]:
    simulator(handler).generate_keys(tmp_path)
    sns = FakeSns((tmp_path / "aws-sns" / "certificate.pem").read_bytes())
    return sns, OutboundClient(transport=httpx.MockTransport(sns), backoff_seconds=0)


async def test_subscription_confirmation_is_confirmed_once_and_not_published(
    make_app: AppFactory, tmp_path: Path
) -> None:
    sns, outbound = fake(tmp_path)
    body = signed(tmp_path, "SubscriptionConfirmation")
    async with make_app(sources(auto_confirm=True), outbound=outbound) as app:
        accepted = await post(app, body)
        assert accepted["status"] == "accepted"
        subscribe_url = json.loads(body)["SubscribeURL"]
        async with asyncio.timeout(5):  # confirmed in the background, after the answer
            while sns.confirmations() < 1:
                await asyncio.sleep(0.01)
        assert sns.urls() == [LOCAL_CERT_URL, subscribe_url]
        stored = await app.store.get_event(int(str(accepted["id"])))
        assert stored is not None
        assert (stored.status, stored.vendor_event_type) == (
            "processed",
            "SubscriptionConfirmation",
        )
        assert await outbox_count(app) == 0

        # SNS resends the same confirmation: a duplicate, and no second confirmation GET.
        again = await post(app, body)
        assert again == {"status": "duplicate", "id": accepted["id"]}
        assert sns.confirmations() == 1

        # A notification on the confirmed topic is published; the certificate is cached.
        notified = await post(app, signed(tmp_path, "ses.Bounce"))
        assert notified["status"] == "accepted"
        assert await outbox_count(app) == 1
        assert sns.urls().count(LOCAL_CERT_URL) == 1


async def test_auto_confirm_false_then_ingest_sns_confirm(
    make_app: AppFactory, tmp_path: Path
) -> None:
    sns, outbound = fake(tmp_path)
    body = signed(tmp_path, "SubscriptionConfirmation")
    async with make_app(sources(auto_confirm=False), outbound=outbound) as app:
        accepted = await post(app, body)
        event_id = int(str(accepted["id"]))
        assert sns.confirmations() == 0
        assert await outbox_count(app) == 0

        notification = await post(app, signed(tmp_path, "Notification"))
        results = await confirm_subscriptions(
            app.store, outbound, [event_id, int(str(notification["id"])), 999_999]
        )
        assert [(r.event_id, r.outcome) for r in results] == [
            (event_id, "confirmed"),
            (int(str(notification["id"])), "skipped"),
            (999_999, "missing"),
        ]
        assert sns.confirmations() == 1

        # Without ids: every stored confirmation (here, the one).
        [result] = await confirm_subscriptions(app.store, outbound, source="sns")
        assert (result.event_id, result.outcome) == (event_id, "confirmed")


async def test_forged_certificate_host_is_never_fetched(
    make_app: AppFactory, tmp_path: Path
) -> None:
    sns, outbound = fake(tmp_path)
    message = json.loads(signed(tmp_path, "ses.Bounce"))
    message["SigningCertURL"] = "https://attacker.example.com/SimpleNotificationService-x.pem"
    async with make_app(sources(auto_confirm=True), outbound=outbound) as app:
        response = await app.client.post("/webhooks/sns", content=json.dumps(message))
        assert (response.status_code, response.json()["error"]) == (401, "invalid_signature")
    assert sns.requests == []
