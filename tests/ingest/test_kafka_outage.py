"""The broker process really stops: deliveries are still acked, wait in the outbox, and are each
published exactly once when the broker returns."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ingest.handlers.stripe import StripeHandler
from ingest.simulation import simulator
from tests import support
from tests.handlers.kit import sign_headers

KAFKA = ["bash", str(support.SCRIPTS / "kafka.sh")]


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """A broker of this test's own, so stopping it disturbs no other test."""
    directory = tmp_path / "kafka"
    args = [
        "--dir",
        str(directory),
        "--port",
        str(support.free_port()),
        "--controller-port",
        str(support.free_port()),
    ]
    bootstrap = support.script_output([*KAFKA, "start", *args], "KAFKA_BOOTSTRAP_SERVERS")
    try:
        yield bootstrap, args
    finally:
        subprocess.run(
            [*KAFKA, "stop", "--dir", str(directory)], check=False, capture_output=True, timeout=120
        )


def stop_broker(directory: str, how: str) -> None:
    if how == "sigkill":  # a crash: no controlled shutdown, no flushed state
        pid = int((Path(directory) / "kafka.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        while (
            Path(f"/proc/{pid}").exists()
            and "zombie" not in Path(f"/proc/{pid}/status").read_text()
        ):
            time.sleep(0.05)
    else:
        subprocess.run(
            [*KAFKA, "stop", "--dir", directory], check=True, capture_output=True, timeout=120
        )


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
async def test_events_survive_a_broker_outage_and_publish_exactly_once(
    how: str,
    own_broker: tuple[str, list[str]],
    postgres_url: str,
    sources: tuple[Path, support.Topics],
    tmp_path: Path,
) -> None:
    bootstrap, broker_args = own_broker
    path, topics = sources
    env = {
        "DATABASE_URL": postgres_url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "INGEST_SOURCES_FILE": str(path),
        **support.SECRET_ENV,
    }
    stripe = StripeHandler()
    bodies = [simulator(stripe).sample("payment_intent.succeeded") for _ in range(101)]
    with (
        support.running_server(env, tmp_path) as server,
        httpx.Client(base_url=server.url) as client,
    ):

        def deliver(body: bytes) -> httpx.Response:
            headers = sign_headers(stripe, body, support.STRIPE_SECRET, time.time())
            return client.post("/webhooks/stripe", content=body, headers=headers)

        assert deliver(bodies[0]).status_code == 200  # one before the outage: the path works
        assert (
            len(await support.consume(bootstrap, [topics.payments], expect=1, settle_seconds=0))
            == 1
        )

        stop_broker(broker_args[1], how)
        responses = [deliver(body) for body in bodies[1:]]
        assert [r.status_code for r in responses] == [200] * 100
        assert all(r.json()["status"] == "accepted" for r in responses)

        # Keep the broker down until the relay has noticed (its producer times out first).
        deadline = time.monotonic() + 60
        while '"relay.sink_down"' not in server.log():
            assert time.monotonic() < deadline, server.log()[-3000:]
            time.sleep(0.5)
        # Still ready: webhooks are accepted into the outbox; the body says Kafka is down.
        while True:
            ready = client.get("/readyz")
            assert ready.status_code == 200
            if ready.json()["kafka"]["state"] == "down":
                break
            assert time.monotonic() < deadline, ready.json()
            time.sleep(0.5)
        assert ready.json()["outbox"]["pending"] > 0
        time.sleep(3)  # and through a few retries, which must not log again
        subprocess.run(
            [*KAFKA, "start", *broker_args], check=True, capture_output=True, timeout=300
        )
        records = await support.consume(
            bootstrap, [topics.payments], expect=101, settle_seconds=4, timeout=90
        )
        assert client.get("/readyz").status_code == 200
    ids = Counter(json.loads(record.value)["id"] for record in records)
    assert len(ids) == 101, f"{len(ids)} distinct events published"
    assert max(ids.values()) == 1, f"duplicates: {[i for i, n in ids.items() if n > 1]}"
    vendor_ids = {json.loads(record.value)["vendoreventid"] for record in records}
    assert vendor_ids == {json.loads(body)["id"] for body in bodies}

    relay_log = [json.loads(line) for line in server.log().splitlines() if '"relay.' in line]
    outages = [entry for entry in relay_log if entry["event"] == "relay.sink_down"]
    assert len(outages) == 1, "the outage is logged once per state change, not per event or retry"
    assert any(
        entry["event"] == "relay.healthy" and entry["previous"] == "sink_down"
        for entry in relay_log
    )
