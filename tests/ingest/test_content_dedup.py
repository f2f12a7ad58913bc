"""GitHub signs only the body; `X-GitHub-Delivery` is not signed. A captured request replayed
with a fresh delivery id is a new event — unless the source opts into content deduplication."""

from __future__ import annotations

import asyncio
import time
import uuid

from ingest.handlers.github import GitHubHandler
from ingest.simulation import simulator
from tests import support
from tests.handlers.kit import sign_headers
from tests.ingest.conftest import App, AppFactory

github = GitHubHandler()
EXTRA = {
    "github-dedup": {
        "vendor": "github",
        "secrets": ["${TEST_GITHUB_SECRET}"],
        "dedupe_content_seconds": 2,
    }
}


def captured() -> tuple[bytes, dict[str, str]]:
    body = simulator(github).sample("push")
    return body, sign_headers(github, body, support.GITHUB_SECRET, time.time(), "push")


async def replay(app: App, source: str, body: bytes, headers: dict[str, str]) -> dict[str, object]:
    """The attacker's copy: the same signed body, a delivery id of their choosing."""
    forged = {**headers, "X-GitHub-Delivery": str(uuid.uuid4())}
    response = await app.client.post(f"/webhooks/{source}", content=body, headers=forged)
    assert response.status_code == 200, response.text
    answer: dict[str, object] = response.json()
    return answer


async def test_without_the_option_a_replayed_capture_is_a_new_event(app: App) -> None:
    body, headers = captured()
    first = await replay(app, "github", body, headers)
    second = await replay(app, "github", body, headers)
    assert (first["status"], second["status"]) == ("accepted", "accepted")


async def test_with_it_a_replayed_capture_is_a_duplicate_within_the_window(
    make_app: AppFactory,
) -> None:
    async with make_app(EXTRA) as app:
        body, headers = captured()
        first = await replay(app, "github-dedup", body, headers)
        again = await asyncio.gather(
            *(replay(app, "github-dedup", body, headers) for _ in range(5))
        )
        assert all(a == {"status": "duplicate", "id": first["id"]} for a in again)
        other_body, other_headers = captured()
        assert (await replay(app, "github-dedup", other_body, other_headers))[
            "status"
        ] == "accepted"
        await asyncio.sleep(2.2)  # the window has passed: the same body is news again
        later = await replay(app, "github-dedup", body, headers)
        assert later["status"] == "accepted"
        assert later["id"] != first["id"]


async def test_concurrent_copies_make_one_event(make_app: AppFactory) -> None:
    async with make_app(EXTRA) as app:
        body, headers = captured()
        answers = await asyncio.gather(
            *(replay(app, "github-dedup", body, headers) for _ in range(8))
        )
        assert [a["status"] for a in answers].count("accepted") == 1
        assert len({a["id"] for a in answers}) == 1
