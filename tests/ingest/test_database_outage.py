"""PostgreSQL really stops: deliveries get 503 + Retry-After (never a false ack), then recover."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ingest.handlers.stripe import StripeHandler
from ingest.simulation import simulator
from tests import support
from tests.handlers.kit import sign_headers

POSTGRES = ["bash", str(support.SCRIPTS / "postgres.sh")]


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    args = ["--dir", str(tmp_path / "pg"), "--port", str(support.free_port())]
    url = support.script_output([*POSTGRES, "start", *args], "DATABASE_URL")
    try:
        yield url, args
    finally:
        subprocess.run(
            [*POSTGRES, "stop", args[0], args[1]], check=False, capture_output=True, timeout=60
        )


async def test_unreachable_database_answers_503_with_retry_after(
    own_postgres: tuple[str, list[str]], sources: tuple[Path, support.Topics], tmp_path: Path
) -> None:
    url, args = own_postgres
    path, _ = sources
    env = {
        "DATABASE_URL": url,
        "INGEST_SOURCES_FILE": str(path),
        "INGEST_SINK_FILE": str(tmp_path / "events.jsonl"),
        "INGEST_DB_TIMEOUT_SECONDS": "2",
        **support.SECRET_ENV,
    }
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    migrated = support.run_cli(env, tmp_path, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    stripe = StripeHandler()

    def deliver(client: httpx.Client, body: bytes) -> httpx.Response:
        return client.post(
            "/webhooks/stripe",
            content=body,
            headers=sign_headers(stripe, body, support.STRIPE_SECRET, time.time()),
        )

    with (
        support.running_server({**env, "KAFKA_BOOTSTRAP_SERVERS": ""}, tmp_path) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        assert deliver(client, simulator(stripe).sample(None)).status_code == 200

        subprocess.run([*POSTGRES, "stop", *args[:2]], check=True, capture_output=True, timeout=60)
        body = simulator(stripe).sample(None)
        response = deliver(client, body)
        assert response.status_code == 503
        assert response.json()["error"] == "unavailable"
        assert int(response.headers["Retry-After"]) > 0
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "database" in ready.json()["failing"]

        subprocess.run([*POSTGRES, "start", *args], check=True, capture_output=True, timeout=60)
        retried = deliver(client, body)  # the vendor's retry of the refused delivery
        assert (retried.status_code, retried.json()["status"]) == (200, "accepted")
    assert "Traceback" not in server.log()


def test_serving_an_unmigrated_postgres_says_to_migrate(
    own_postgres: tuple[str, list[str]], sources: tuple[Path, support.Topics], tmp_path: Path
) -> None:
    url, _ = own_postgres
    path, _ = sources
    env = {
        "DATABASE_URL": url,
        "INGEST_SOURCES_FILE": str(path),
        "KAFKA_BOOTSTRAP_SERVERS": "",
        **support.SECRET_ENV,
    }
    result = subprocess.run(
        [*support.CLI, "serve", "--port", str(support.free_port())],
        env=support.environment(env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 4
    assert "ingest migrate" in result.stderr
