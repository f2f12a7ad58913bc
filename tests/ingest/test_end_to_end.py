"""A signed webhook over real HTTP → `ingest serve` → PostgreSQL → Kafka → a real consumer."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import httpx
import pytest

from ingest.cloudevents import cloudevent_id
from ingest.handlers.github import GitHubHandler
from ingest.handlers.standard_webhooks import StandardWebhooksHandler
from ingest.handlers.stripe import StripeHandler
from ingest.simulation import simulator
from tests import support
from tests.handlers.kit import sign_headers


@pytest.fixture
def server_env(
    postgres_url: str, kafka_bootstrap: str, sources: tuple[Path, support.Topics]
) -> dict[str, str]:
    path, _ = sources
    return {
        "DATABASE_URL": postgres_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "INGEST_SOURCES_FILE": str(path),
        **support.SECRET_ENV,
    }


def header(record: object, name: str) -> bytes | None:
    return dict(record.headers).get(name)  # type: ignore[attr-defined]


async def test_stripe_github_and_standard_webhooks_reach_kafka(
    server_env: dict[str, str],
    sources: tuple[Path, support.Topics],
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    _, topics = sources
    stripe_body = simulator(StripeHandler()).sample("payment_intent.succeeded")
    github_body = simulator(GitHubHandler()).sample("push")
    clerk_body = simulator(StandardWebhooksHandler()).sample("user.created")
    with support.running_server(server_env, tmp_path) as server:
        async with httpx.AsyncClient(base_url=server.url) as client:
            now = time.time()
            stripe_headers = sign_headers(StripeHandler(), stripe_body, support.STRIPE_SECRET, now)
            github_headers = sign_headers(
                GitHubHandler(), github_body, support.GITHUB_SECRET, now, "push"
            )
            clerk_headers = sign_headers(
                StandardWebhooksHandler(), clerk_body, support.STANDARD_SECRET, now
            )
            for source, body, headers in (
                ("stripe", stripe_body, stripe_headers),
                ("github", github_body, github_headers),
                ("clerk", clerk_body, clerk_headers),
            ):
                response = await client.post(f"/webhooks/{source}", content=body, headers=headers)
                assert response.status_code == 200, response.text
                assert response.json()["status"] == "accepted"
        records = await support.consume(
            kafka_bootstrap, [topics.payments, topics.vcs, topics.default], expect=3
        )
    by_topic = {record.topic: record for record in records}
    assert len(records) == 3, [r.value for r in records]

    stripe_event = json.loads(stripe_body)
    intent = stripe_event["data"]["object"]
    payment = by_topic[topics.payments]
    cloudevent = json.loads(payment.value)
    assert header(payment, "content-type") == b"application/cloudevents+json"
    assert payment.key == intent["id"].encode()
    assert cloudevent["specversion"] == "1.0"
    assert cloudevent["type"] == "payment.succeeded"
    assert cloudevent["source"] == "/sources/stripe"
    assert cloudevent["subject"] == intent["id"]
    assert cloudevent["vendor"] == "stripe"
    assert cloudevent["vendoreventid"] == stripe_event["id"]
    assert cloudevent["id"] == cloudevent_id("stripe", stripe_event["id"], 0, "payment.succeeded")
    assert cloudevent["data"]["amount"] == {"amount_minor": 2000, "currency": "USD"}
    assert cloudevent["data"]["payment_id"] == intent["id"]
    assert cloudevent["datacontenttype"] == "application/json"

    push = json.loads(by_topic[topics.vcs].value)
    assert push["type"] == "vcs.push"
    assert push["vendoreventid"] == github_headers["X-GitHub-Delivery"]
    assert push["data"]["after"] == json.loads(github_body)["after"]
    assert by_topic[topics.vcs].key == b"octocat/hello-world"

    user = json.loads(by_topic[topics.default].value)
    assert user["type"] == "standard-webhooks.user.created"
    assert user["vendoreventid"] == clerk_headers["webhook-id"]
    assert user["data"]["payload"] == json.loads(clerk_body)


async def test_five_concurrent_deliveries_make_one_row_and_one_cloudevent(
    server_env: dict[str, str],
    sources: tuple[Path, support.Topics],
    kafka_bootstrap: str,
    postgres_engine: object,
    tmp_path: Path,
) -> None:
    _, topics = sources
    body = simulator(StripeHandler()).sample("charge.refunded")
    with support.running_server(server_env, tmp_path, "--workers", "2") as server:
        async with httpx.AsyncClient(base_url=server.url) as client:
            # Each delivery signed separately, as Stripe's retries are.
            requests = [
                client.post(
                    "/webhooks/stripe",
                    content=body,
                    headers=sign_headers(
                        StripeHandler(), body, support.STRIPE_SECRET, time.time() + i
                    ),
                )
                for i in range(5)
            ]
            responses = await asyncio.gather(*requests)
        records = await support.consume(
            kafka_bootstrap, [topics.payments], expect=1, settle_seconds=3
        )
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    statuses = sorted(r.json()["status"] for r in responses)
    assert statuses == ["accepted", "duplicate", "duplicate", "duplicate", "duplicate"]
    assert len({r.json()["id"] for r in responses}) == 1
    assert len(records) == 1
    assert json.loads(records[0].value)["type"] == "payment.refunded"


async def test_ingest_send_reaches_kafka(
    server_env: dict[str, str],
    sources: tuple[Path, support.Topics],
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    _, topics = sources
    with support.running_server(server_env, tmp_path) as server:
        result = support.run_cli(
            server_env, tmp_path, "send", "github", "--type", "pull_request", "--url", server.url
        )
        assert result.returncode == 0, result.stderr
        assert '"status": "accepted"' in result.stdout
        records = await support.consume(kafka_bootstrap, [topics.vcs], expect=1)
    assert [json.loads(r.value)["type"] for r in records] == ["vcs.pull_request.opened"]
    assert uuid.UUID(json.loads(records[0].value)["id"])
