"""`ingest sns confirm`: confirm stored AWS SNS subscriptions by hand.

For sources with `auto_confirm: false` (or when the automatic GET failed), the
SubscriptionConfirmation is stored like any handshake; this command GETs its `SubscribeURL`
through the same outbound client the server uses — https only, SNS hosts only, no redirects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import click

from ingest.cli.common import ROW_ID, CommandError, ExitCode, run_async, settings_for_cli
from ingest.handlers import HANDLERS
from ingest.handlers.base import InboundRequest, RejectedRequestError, VendorHandler
from ingest.outbound import OutboundClient, OutboundError
from ingest.runtime import Database
from ingest.settings import Settings
from ingest.sources import SourceConfig
from ingest.store import EventFilter, Store

VENDOR = "aws-sns"
CONFIRMATION = "SubscriptionConfirmation"
SCAN_LIMIT = 10_000


@dataclass(frozen=True)
class ConfirmResult:
    event_id: int
    outcome: Literal["confirmed", "unreachable", "failed", "skipped", "missing"]
    detail: str


async def confirm_subscriptions(
    store: Store,
    outbound: OutboundClient,
    ids: Sequence[int] = (),
    *,
    source: str | None = None,
    handler: VendorHandler | None = None,
) -> list[ConfirmResult]:
    """GET the SubscribeURL of each stored SubscriptionConfirmation: the events named by `ids`,
    or, without ids, every one stored (from `source`, if given)."""
    handler = handler or HANDLERS[VENDOR]
    if not ids:
        found = await store.list_events(EventFilter(source=source), limit=SCAN_LIMIT)
        ids = [e.id for e in found if e.vendor == VENDOR and e.vendor_event_type == CONFIRMATION]
    results: list[ConfirmResult] = []
    for event_id in ids:
        event = await store.get_event(event_id)
        if event is None:
            results.append(ConfirmResult(event_id, "missing", "no such event"))
            continue
        if event.vendor != VENDOR or event.vendor_event_type != CONFIRMATION:
            results.append(ConfirmResult(event_id, "skipped", f"not an SNS {CONFIRMATION}"))
            continue
        # The stored body was verified on arrival; identify re-checks the SubscribeURL's host.
        stored = InboundRequest(method="POST", url="", headers=event.headers, body=event.body)
        config = SourceConfig(name=event.source, vendor=VENDOR)
        try:
            url = handler.identify(stored, config).confirm_url
        except RejectedRequestError as exc:
            results.append(ConfirmResult(event_id, "failed", exc.message))
            continue
        if url is None:
            results.append(ConfirmResult(event_id, "failed", "no SubscribeURL"))
            continue
        try:
            await outbound.get(url, allowed_hosts=handler.document_hosts)
        except OutboundError as exc:
            results.append(ConfirmResult(event_id, "unreachable", str(exc)))
            continue
        results.append(ConfirmResult(event_id, "confirmed", "subscription confirmed"))
    return results


@click.group()
def sns() -> None:
    """AWS SNS subscriptions."""


@sns.command("confirm")
@click.argument("event_ids", metavar="[ID]...", nargs=-1, type=ROW_ID)
@click.option("--source", help="Without IDs: only confirmations from this source.")
def confirm(event_ids: tuple[int, ...], source: str | None) -> None:
    """Confirm stored SNS SubscriptionConfirmations by GETting their SubscribeURL.

    Without IDs, every stored SubscriptionConfirmation is confirmed (confirming twice is
    harmless: SNS answers with the same subscription). Exits 1 if an ID is unknown or not a
    confirmable SubscriptionConfirmation, 5 if SNS could not be reached.

    \b
    Examples:
      ingest sns confirm
      ingest sns confirm 42
      ingest sns confirm --source orders-topic
    """
    settings = settings_for_cli()
    results = _confirm(settings, event_ids, source)
    if not results:
        click.echo("no SubscriptionConfirmation events stored", err=True)
        return
    for result in results:
        click.echo(f"{result.event_id:>8}  {result.outcome:<9}  {result.detail}")
    outcomes = {result.outcome for result in results}
    if outcomes & {"failed", "missing", "skipped"}:
        raise CommandError(
            "some IDs are not stored, confirmable SNS confirmations", ExitCode.FAILED
        )
    if "unreachable" in outcomes:
        raise CommandError("SNS could not be reached for some subscriptions", ExitCode.UNREACHABLE)


@run_async
async def _confirm(
    settings: Settings, event_ids: tuple[int, ...], source: str | None
) -> list[ConfirmResult]:
    database = await Database.open(settings)
    outbound = OutboundClient()
    try:
        return await confirm_subscriptions(database.store, outbound, event_ids, source=source)
    finally:
        await outbound.close()
        await database.close()
