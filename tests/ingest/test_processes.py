"""The deployment shapes as real processes: `serve --no-relay` with `ingest relay --port` woken by
LISTEN/NOTIFY, and `serve --workers 2` whose `/metrics` counts what every worker did."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from ingest.handlers.stripe import StripeHandler
from ingest.simulation import simulator
from tests import support
from tests.handlers.kit import sign_headers

stripe = StripeHandler()


def environment(postgres_url: str, kafka: str, sources: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": postgres_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "INGEST_SOURCES_FILE": str(sources),
        **support.SECRET_ENV,
    }


def deliver(client: httpx.Client) -> httpx.Response:
    body = simulator(stripe).sample("payment_intent.succeeded")
    headers = sign_headers(stripe, body, support.STRIPE_SECRET, time.time())
    return client.post("/webhooks/stripe", content=body, headers=headers)


@contextlib.contextmanager
def relay_process(env: dict[str, str], workdir: Path) -> Iterator[str]:
    port = support.free_port()
    log = (workdir / f"relay-{port}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "ingest", "relay", "--port", str(port)],
        env=support.environment(env),
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (workdir / f"relay-{port}.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


async def test_a_separate_relay_is_woken_by_notify_not_by_polling(
    postgres_url: str,
    kafka_bootstrap: str,
    sources: tuple[Path, support.Topics],
    tmp_path: Path,
) -> None:
    path, topics = sources
    # A 30 s idle poll: only the notification can make the relay publish within seconds.
    env = {**environment(postgres_url, kafka_bootstrap, path), "INGEST_RELAY_POLL_SECONDS": "30"}
    with (
        support.running_server(env, tmp_path, "--no-relay") as server,
        relay_process(env, tmp_path) as relay_url,
        httpx.Client(base_url=server.url) as client,
    ):
        deadline = time.monotonic() + 30
        while httpx.get(f"{relay_url}/readyz").json()["relay"]["state"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(1.5)  # the relay is idle now, in its long poll
        sent = time.monotonic()
        assert deliver(client).status_code == 200
        records = await support.consume(
            kafka_bootstrap, [topics.payments], expect=1, settle_seconds=0, timeout=20
        )
        assert len(records) == 1
        assert time.monotonic() - sent < 5
        ready = httpx.get(f"{relay_url}/readyz").json()
        assert ready["this_process"]["relay"]["published"] == 1
        metrics = httpx.get(f"{relay_url}/metrics").text
        assert f'ingest_relay_published_records_total{{topic="{topics.payments}"}} 1.0' in metrics
        # The server without a relay reports the other process's relay all the same.
        assert client.get("/readyz").json()["relay"]["state"] == "running"
        assert "relay" not in client.get("/readyz").json()["this_process"]


def test_metrics_add_up_every_worker(
    postgres_url: str, sources: tuple[Path, support.Topics], tmp_path: Path
) -> None:
    path, _ = sources
    env = {
        **environment(postgres_url, "", path),
        "INGEST_SINK_FILE": str(tmp_path / "events.jsonl"),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    with (
        support.running_server(env, tmp_path, "--workers", "2") as server,
        httpx.Client(base_url=server.url) as client,
    ):
        for _ in range(12):
            assert deliver(client).status_code == 200
        totals = set()
        for _ in range(6):  # answered by either worker: the same sum
            text = httpx.get(f"{server.url}/metrics").text
            match = re.search(
                r'ingest_http_requests_total\{outcome="accepted",source="stripe",status="200"\} '
                r"(\S+)",
                text,
            )
            assert match, text[:2000]
            totals.add(float(match.group(1)))
        assert totals == {12.0}
