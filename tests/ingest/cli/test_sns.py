"""`ingest sns confirm` (`ingest.cli.sns`): confirm stored SNS SubscriptionConfirmations by
GETting their SubscribeURL. One line per ID with its outcome; exit 1 when an ID is unknown, not
a confirmation, or one whose SubscribeURL is not an SNS URL; 5 when SNS cannot be reached.

The command runs in-process on the embedded SQLite store for everything that is answered before
any request leaves (no internet here). `confirm_subscriptions`, which the command calls, is run
against a fake of SNS's ConfirmSubscription endpoint (httpx's MockTransport: a vendor API) for
the outcomes that depend on SNS's answer; tests/ingest/test_sns_pipeline.py drives it through
the real app on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
from click.testing import CliRunner, Result
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest import migrate
from ingest.cli import main
from ingest.cli.common import ExitCode
from ingest.cli.sns import ConfirmResult, confirm_subscriptions
from ingest.db import create_engine
from ingest.handlers.base import Verdict
from ingest.outbound import OutboundClient
from ingest.processing import Outcome
from ingest.simulation import SIMULATORS
from ingest.store import NewDelivery, Store

FORGED_URL = "https://attacker.example.com/?Action=ConfirmSubscription&Token=x"


def confirmation(subscribe_url: str | None = None) -> bytes:
    message = json.loads(SIMULATORS["aws-sns"].sample("SubscriptionConfirmation"))
    if subscribe_url is not None:
        message["SubscribeURL"] = subscribe_url
    return json.dumps(message).encode()


async def store_event(
    store: Store, body: bytes, *, source: str = "orders", vendor: str = "aws-sns"
) -> int:
    message = json.loads(body)
    event_id = str(message.get("MessageId") or message.get("id"))
    event_type = str(message.get("Type") or message.get("type"))
    delivery = NewDelivery(
        source, vendor, event_id, event_type, body, {}, datetime.now(UTC), Verdict(0)
    )
    return (await store.record(delivery, Outcome("processed"))).id


async def seed(database: Path) -> dict[str, int]:
    """A confirmation, one whose SubscribeURL is not SNS's, and a Stripe event."""
    engine = create_engine(f"sqlite:///{database}")
    try:
        await migrate.upgrade(engine)
        store = Store(engine)
        stripe = SIMULATORS["stripe"].sample(None)
        return {
            "confirmation": await store_event(store, confirmation()),
            "forged": await store_event(store, confirmation(FORGED_URL)),
            "stripe": await store_event(store, stripe, source="stripe", vendor="stripe"),
        }
    finally:
        await engine.dispose()


def confirm(env: dict[str, str], *arguments: str) -> Result:
    return CliRunner().invoke(main, ["sns", "confirm", *arguments], env=env)


def rows(result: Result) -> list[list[str]]:
    return [line.split(maxsplit=2) for line in result.stdout.splitlines()]


class FakeSns:
    """SNS's ConfirmSubscription endpoint, answering with `status`."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, content=b"<ConfirmSubscriptionResponse/>")

    def client(self) -> OutboundClient:
        return OutboundClient(transport=httpx.MockTransport(self), backoff_seconds=0)


# -- the command ----------------------------------------------------------------------------


def test_with_no_confirmations_stored_it_says_so_and_succeeds(demo_env: dict[str, str]) -> None:
    result = confirm(demo_env)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr.strip() == "no SubscriptionConfirmation events stored"


def test_an_unknown_id_and_an_event_of_another_vendor_exit_1_each_with_its_reason(
    demo_env: dict[str, str], demo_dir: Path
) -> None:
    ids = asyncio.run(seed(demo_dir / "ingest.db"))
    result = confirm(demo_env, "999999", str(ids["stripe"]))
    assert result.exit_code == ExitCode.FAILED
    assert rows(result) == [
        ["999999", "missing", "no such event"],
        [str(ids["stripe"]), "skipped", "not an SNS SubscriptionConfirmation"],
    ]
    assert "some IDs are not stored, confirmable SNS confirmations" in result.stderr


def test_a_subscribe_url_off_the_sns_hosts_is_refused_before_any_request(
    demo_env: dict[str, str], demo_dir: Path
) -> None:
    ids = asyncio.run(seed(demo_dir / "ingest.db"))
    result = confirm(demo_env, str(ids["forged"]))
    assert result.exit_code == ExitCode.FAILED
    assert rows(result) == [[str(ids["forged"]), "failed", "SubscribeURL is not an https SNS URL"]]


def test_a_source_with_no_confirmations_is_reported_as_none_stored(
    demo_env: dict[str, str], demo_dir: Path
) -> None:
    asyncio.run(seed(demo_dir / "ingest.db"))
    result = confirm(demo_env, "--source", "stripe")
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == "no SubscriptionConfirmation events stored"


# -- confirm_subscriptions, against a fake SNS -------------------------------------------------


async def test_a_confirmation_is_confirmed_by_getting_its_subscribe_url(
    sqlite_engine: AsyncEngine,
) -> None:
    store = Store(sqlite_engine)
    body = confirmation()
    event_id = await store_event(store, body)
    sns = FakeSns()
    results = await confirm_subscriptions(store, sns.client(), [event_id])
    assert results == [ConfirmResult(event_id, "confirmed", "subscription confirmed")]
    assert [str(r.url) for r in sns.requests] == [json.loads(body)["SubscribeURL"]]


async def test_sns_answering_with_an_error_is_unreachable_not_confirmed(
    sqlite_engine: AsyncEngine,
) -> None:
    store = Store(sqlite_engine)
    event_id = await store_event(store, confirmation())
    [result] = await confirm_subscriptions(store, FakeSns(status=503).client(), [event_id])
    assert (result.event_id, result.outcome) == (event_id, "unreachable")
    assert "HTTP 503" in result.detail


async def test_without_ids_every_confirmation_of_the_source_is_confirmed_and_nothing_else(
    sqlite_engine: AsyncEngine,
) -> None:
    store = Store(sqlite_engine)
    ours = await store_event(store, confirmation())
    theirs = await store_event(store, confirmation(), source="billing")
    await store_event(store, SIMULATORS["stripe"].sample(None), source="stripe", vendor="stripe")
    sns = FakeSns()
    results = await confirm_subscriptions(store, sns.client(), source="orders")
    assert [(r.event_id, r.outcome) for r in results] == [(ours, "confirmed")]
    everywhere = await confirm_subscriptions(store, sns.client())
    assert sorted(r.event_id for r in everywhere) == sorted([ours, theirs])
    assert len(sns.requests) == 3
