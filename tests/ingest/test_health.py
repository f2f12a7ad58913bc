"""`/readyz` and `/metrics` on the real app: ready while the database answers, whatever Kafka does;
Kafka's, the relays' and the outbox's state in the body and the metrics."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Any

from ingest import app as app_module
from ingest.handlers.stripe import StripeHandler
from ingest.relay.states import RelayState
from ingest.simulation import simulator
from tests import support
from tests.handlers.kit import sign_headers
from tests.ingest.conftest import App, AppFactory

stripe = StripeHandler()


async def deliver(app: App) -> None:
    body = simulator(stripe).sample("payment_intent.succeeded")
    headers = sign_headers(stripe, body, support.STRIPE_SECRET, time.time())
    response = await app.client.post("/webhooks/stripe", content=body, headers=headers)
    assert response.status_code == 200, response.text


async def ready_until(app: App, condition: Any, timeout: float = 30) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        response = await app.client.get("/readyz")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if condition(body):
            return body
        assert asyncio.get_running_loop().time() < deadline, body
        await asyncio.sleep(0.2)


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.match(r"^([a-z_]+)(?:\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = ",".join(sorted((match.group(2) or "").split(","))) if match.group(2) else ""
        if found == wanted or (not labels and not found):
            return float(match.group(3))
    raise AssertionError(f"{name}{{{wanted}}} not in metrics")


async def test_metrics_count_requests_and_show_the_outbox(app: App) -> None:
    await deliver(app)
    await ready_until(app, lambda body: body["outbox"]["pending"] == 0)
    bad = await app.client.post(
        "/webhooks/stripe", content=b"{}", headers={"Stripe-Signature": "x"}
    )
    assert bad.status_code in {400, 401}
    text = (await app.client.get("/metrics")).text
    assert (
        metric(
            text, "ingest_http_requests_total", source="stripe", outcome="accepted", status="200"
        )
        >= 1
    )
    assert (
        metric(text, "ingest_webhook_rejections_total", source="stripe", reason=bad.json()["error"])
        >= 1
    )
    assert metric(text, "ingest_verification_matches_total", source="stripe", secret_index="0") >= 1
    assert metric(text, "ingest_outbox_pending_records") == 0
    assert metric(text, "ingest_outbox_parked_records") == 0
    assert metric(text, "ingest_database_up") == 1
    assert metric(text, "ingest_kafka_connected") == 1
    assert metric(text, "ingest_relay_published_records_total", topic=app.topics.payments) >= 1
    assert "ingest_relay_publish_latency_seconds_bucket" in text


async def test_a_wrong_kafka_password_is_named_while_webhooks_are_still_accepted(
    make_app: AppFactory, kafka_sasl: support.KafkaSasl
) -> None:
    environment = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_sasl.bootstrap,
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        "KAFKA_SASL_USERNAME": kafka_sasl.username,
        "KAFKA_SASL_PASSWORD": "wrong-" + uuid.uuid4().hex,
        "KAFKA_SSL_CAFILE": kafka_sasl.cafile,
    }
    started = time.monotonic()
    async with make_app(environment=environment) as app:
        await deliver(app)  # accepted into the outbox although Kafka refuses us
        body = await ready_until(app, lambda b: b["kafka"]["state"] == "down", timeout=15)
        assert time.monotonic() - started < 15
        assert "authentication failed" in body["kafka"]["error"]
        assert body["outbox"]["pending"] == 1
        assert body["this_process"]["relay"]["cause"] == "authentication_failed"
        assert environment["KAFKA_SASL_PASSWORD"] not in str(body)
        text = (await app.client.get("/metrics")).text
        assert metric(text, "ingest_kafka_errors_total", reason="authentication_failed") >= 1
        assert metric(text, "ingest_kafka_connected") == 0
        assert metric(text, "ingest_outbox_pending_records") == 1
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 10, "shutdown waits on a broker that refuses us"


async def test_this_process_is_reported_as_of_after_the_shared_state_was_read(
    app: App, monkeypatch: Any
) -> None:
    # A relay changes its state in memory first and in the database second; were this
    # process's view taken before the database read, a change in between would show "Kafka
    # down" from the database beside a relay still "starting" (seen once in CI).
    relay = app.app.state.services.background.relay
    real_read = app_module._read_delivery

    async def read_while_the_relay_changes(services: Any) -> Any:
        delivery = await real_read(services)
        relay._set_state(RelayState.SINK_DOWN, "Kafka at x: timed out", "timeout")
        return delivery

    monkeypatch.setattr(app_module, "_read_delivery", read_while_the_relay_changes)
    body = (await app.client.get("/readyz")).json()
    assert body["this_process"]["relay"]["cause"] == "timeout"
