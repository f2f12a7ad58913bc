"""A webhook under the body limit whose CloudEvent is over Kafka's record limit: stored and
acked, the event `failed` with an error that says what to change, the rest still flowing; after
a replay with a higher limit, a record the producer still refuses is parked, not a blockage."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

from ingest.handlers.github import GitHubHandler
from ingest.handlers.stripe import StripeHandler
from ingest.simulation import simulator
from tests import support
from tests.handlers.kit import sign_headers
from tests.ingest.conftest import AppFactory

github, stripe = GitHubHandler(), StripeHandler()
BODY_LIMIT = 1_048_576


def large_issue_event(size: int) -> bytes:
    """A GitHub `issues` delivery (passed through whole into the CloudEvent) of `size` bytes."""
    document = {"action": "opened", "issue": {"number": 1, "body": ""}, "repository": {"id": 1}}
    padding = size - len(json.dumps(document).encode())
    document["issue"]["body"] = "x" * padding  # type: ignore[index]
    body = json.dumps(document).encode()
    assert len(body) == size
    return body


async def test_an_oversized_cloudevent_fails_its_event_but_the_delivery_is_acked(
    make_app: AppFactory, kafka_bootstrap: str, tmp_path: Path
) -> None:
    async with make_app(environment={"INGEST_MAX_BODY_BYTES": BODY_LIMIT}) as app:
        # Under the body limit, over Kafka's once wrapped in the CloudEvent (main turned such a
        # delivery into a record that stopped all publishing).
        body = large_issue_event(1_048_500)
        headers = sign_headers(github, body, support.GITHUB_SECRET, time.time(), "issues")
        headers["X-GitHub-Delivery"] = str(uuid.uuid4())
        response = await app.client.post("/webhooks/github", content=body, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "accepted"
        stored = await app.store.get_event(response.json()["id"])
        assert stored is not None
        assert stored.status == "failed"
        assert "KAFKA_MAX_REQUEST_SIZE" in (stored.last_error or "")
        assert stored.body == body  # nothing lost: replayable

        # Later events are not held up by it.
        later = simulator(stripe).sample("payment_intent.succeeded")
        sent = await app.client.post(
            "/webhooks/stripe",
            content=later,
            headers=sign_headers(stripe, later, support.STRIPE_SECRET, time.time()),
        )
        assert sent.status_code == 200
        [record] = await support.consume(kafka_bootstrap, [app.topics.payments], expect=1)
        assert json.loads(record.value)["vendoreventid"] == json.loads(later)["id"]

        # Replayed with a higher limit, it becomes a record; this relay's producer (and the
        # broker) still refuse it, so it is parked with the reason, and nothing waits behind it.
        env = {
            "DATABASE_URL": app.settings.database_url,
            "INGEST_SOURCES_FILE": str(app.settings.sources_file),
            "KAFKA_MAX_REQUEST_SIZE": str(2 * BODY_LIMIT),
            **support.SECRET_ENV,
        }
        # In a thread: the app's relay runs on this test's event loop and must keep running.
        replayed = await asyncio.to_thread(
            support.run_cli, env, tmp_path, "replay", str(stored.id), "--yes"
        )
        assert replayed.returncode == 0, replayed.stderr
        deadline = time.monotonic() + 30
        while True:
            listed = await asyncio.to_thread(
                support.run_cli, env, tmp_path, "outbox", "list", "--parked", "--json"
            )
            parked = [json.loads(line) for line in listed.stdout.splitlines()]
            if parked or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert [p["event_id"] for p in parked] == [stored.id]
        assert parked[0]["status"] == "parked"
        assert parked[0]["error"].startswith("record_too_large")
        shown = await asyncio.to_thread(
            support.run_cli, env, tmp_path, "events", "list", "--source", "github", "--json"
        )
        [summary] = [json.loads(line) for line in shown.stdout.splitlines()]
        assert (summary["publish_state"], summary["cloudevent_types"]) == (
            "parked",
            ["github.issues"],
        )
