"""The HTTP surface: `POST /webhooks/{source}`, `GET /healthz`, `GET /readyz`, `GET /metrics`.

Responses are always small JSON. Bad input gets a 4xx with a machine-readable `error` code; a
database we cannot reach gets 503 with Retry-After, because the vendor will retry and we never
acknowledge what we did not store. Kafka being down is never a reason to refuse a webhook: the
outbox holds what the relay cannot publish yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ingest import health, metrics
from ingest.background import Background, health_policy, retry_policy
from ingest.dberrors import DATABASE_ERRORS, is_outage, sqlstate
from ingest.documents import DocumentResolver
from ingest.edge import (
    AdmissionMiddleware,
    BodyLimitMiddleware,
    RequestIdMiddleware,
    TrustedProxiesMiddleware,
)
from ingest.group_commit import GroupCommitter
from ingest.handlers import HANDLERS
from ingest.handlers.base import InboundRequest, RejectedRequestError, VendorHandler
from ingest.ingestion import Ingested, Ingestor
from ingest.logs import configure, get_logger
from ingest.outbound import OutboundClient, OutboundError
from ingest.runtime import Database, load_config
from ingest.server import configure_protocol
from ingest.settings import Settings, load_settings
from ingest.sources import SourceConfig, SourcesConfig

log = get_logger("ingest.http")

READY_TIMEOUT_SECONDS = 3.0


def error_response(
    code: str, status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


async def read_body(request: Request) -> bytes:
    """The raw bytes; their size and pace are the edge's (`ingest.edge.body`)."""
    try:
        return await request.body()
    except ClientDisconnect:
        raise ClientGoneError from None


class ClientGoneError(Exception):
    """The sender hung up before its body arrived: nothing to store, nobody to answer."""


REFUSALS: tuple[type[BaseException], ...] = (
    RejectedRequestError,
    ClientGoneError,
    OutboundError,
    *DATABASE_ERRORS,
)
"""What stops a delivery from being stored, each answered as `_refusal` says."""


@dataclass
class Services:
    """What the lifespan builds and the endpoints use. A relay-only process (`ingest relay
    --port`) has no ingestor: it serves health and metrics, not webhooks."""

    settings: Settings
    database: Database
    ingestor: Ingestor | None
    background: Background | None


def _headers(request: Request) -> tuple[dict[str, str], dict[str, bytes]]:
    """Lower-case names to text (latin-1, as Starlette decodes) and to the bytes received; a
    repeated header keeps its last value in both."""
    text: dict[str, str] = {}
    raw: dict[str, bytes] = {}
    for name, value in request.headers.raw:
        key = name.decode("latin-1").lower()
        raw[key] = value
        text[key] = value.decode("latin-1")
    return text, raw


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _unavailable(services: Services, what: str) -> Response:
    return error_response(
        "unavailable",
        503,
        f"{what} is unavailable; retry later",
        {"Retry-After": str(services.settings.retry_after_seconds)},
    )


async def receive_webhook(request: Request) -> Response:
    started = time.perf_counter()
    source = request.path_params["source"]
    response, outcome = await _receive(request, source)
    # Unknown sources share one label: a scanner must not create a time series per path.
    label = source if outcome != "unknown_source" else "_unknown"
    metrics.HTTP_REQUESTS.labels(
        source=label, outcome=outcome, status=str(response.status_code)
    ).inc()
    metrics.HTTP_DURATION.labels(source=label).observe(time.perf_counter() - started)
    return response


async def _receive(request: Request, source: str) -> tuple[Response, str]:
    services = _services(request)
    ingestor = services.ingestor
    assert ingestor is not None  # noqa: S101 - only apps with an ingestor route webhooks
    with structlog.contextvars.bound_contextvars(source=source):
        if not ingestor.knows(source):
            log.info("webhook.rejected", error="unknown_source")
            return error_response(
                "unknown_source", 404, f"no source named {source!r} is configured"
            ), "unknown_source"
        try:
            body = await read_body(request)
            text, raw = _headers(request)
            inbound = InboundRequest(
                method=request.method,
                url=str(request.url),
                headers=text,
                body=body,
                client_ip=request.client.host if request.client else None,
                raw_headers=raw,
            )
            ingested = await ingestor.ingest(source, inbound)
        except REFUSALS as exc:
            return _refusal(exc, services, source)
        return _answer(ingested, source, request.method, len(body))


def _refusal(exc: BaseException, services: Services, source: str) -> tuple[Response, str]:
    """Why nothing was stored, as the vendor should hear it: a 4xx for what it sent, a 503 only
    for what will work on a retry (an outage), never a 503 for a refusal of the content."""
    if isinstance(exc, RejectedRequestError):
        log.info("webhook.rejected", error=exc.code, reason=exc.message)
        metrics.REJECTIONS.labels(source=source, reason=exc.code).inc()
        # A 413's unread body would have to be drained to reuse the connection: close it.
        headers = {"Connection": "close"} if exc.status == 413 else None
        return error_response(exc.code, exc.status, exc.message, headers), "rejected"
    if isinstance(exc, ClientGoneError):
        log.info("webhook.client_disconnected")
        return Response(status_code=400), "disconnected"
    if isinstance(exc, OutboundError):
        log.warning("webhook.certificate_unavailable", error=str(exc))
        return _unavailable(services, "a certificate needed to verify this request"), "unavailable"
    if is_outage(exc):
        log.warning("webhook.database_unavailable", error=type(exc).__name__)
        return _unavailable(services, "storage"), "unavailable"
    log.error("webhook.storage_refused", error=type(exc).__name__, sqlstate=sqlstate(exc))
    message = "the delivery could not be stored; it has been logged"
    return error_response("internal_error", 500, message), "error"


def _answer(ingested: Ingested, source: str, method: str, size: int) -> tuple[Response, str]:
    reply, recorded = ingested.reply, ingested.recorded
    outcome = "answered"
    if recorded is None:
        log.info("webhook.answered", method=method)
    else:
        outcome = "duplicate" if recorded.duplicate else "accepted"
        if recorded.duplicate:
            metrics.DUPLICATES.labels(source=source).inc()
        handshake = bool(ingested.identity and ingested.identity.handshake)
        log.info(f"webhook.{outcome}", event_id=recorded.id, size=size, handshake=handshake)
    if reply is not None:
        return Response(
            reply.body, status_code=reply.status, media_type=reply.content_type
        ), outcome
    assert recorded is not None  # noqa: S101 - a GET always has a reply
    return JSONResponse({"status": outcome, "id": recorded.id}), outcome


def confirmer(
    outbound: OutboundClient, pending: set[asyncio.Task[None]]
) -> Callable[[str, VendorHandler, SourceConfig], Awaitable[None]]:
    """Subscription confirmations (AWS SNS): a GET to the vendor's own host, after the commit.

    In the background: the confirmation is stored already, and with retries the GET can take
    longer than the vendor waits for our answer. A failure is logged; `ingest sns confirm`
    retries it by hand."""

    async def get(url: str, handler: VendorHandler) -> None:
        try:
            await outbound.get(url, allowed_hosts=handler.document_hosts)
        except OutboundError as exc:
            log.warning("webhook.confirmation_failed", error=str(exc), hint="ingest sns confirm")
            return
        log.info("webhook.subscription_confirmed")

    async def confirm(url: str, handler: VendorHandler, source: SourceConfig) -> None:
        if not handler.confirms_automatically(source):
            log.info("webhook.confirmation_pending", hint="ingest sns confirm")
            return
        task = asyncio.create_task(get(url, handler))
        pending.add(task)
        task.add_done_callback(pending.discard)

    return confirm


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _read_delivery(services: Services) -> health.Delivery:
    database = services.database
    return await health.read_delivery(
        database.outbox, database.coordination, services.settings.relay_shards
    )


async def readyz(request: Request) -> Response:
    """200 while this process can take webhooks (the database answers); the body says what
    Kafka, the relays and the outbox are doing, with the same words as the metrics."""
    services = _services(request)
    try:
        await asyncio.wait_for(services.database.store.ping(), READY_TIMEOUT_SECONDS)
        delivery = await _read_delivery(services)
    except DATABASE_ERRORS as exc:
        body = {"status": "unavailable", "failing": {"database": type(exc).__name__}}
        return JSONResponse({**body, "this_process": _local_report(services)}, status_code=503)
    described = health.describe_delivery(delivery, health_policy(services.settings))
    return JSONResponse({"status": "ready", **described, "this_process": _local_report(services)})


def _local_report(services: Services) -> dict[str, Any]:
    # Taken after the database read, never before: a relay writes its shard's state to the
    # database only after changing it in memory, so this process's view is then at least as
    # new as the shared one, and the body never says "Kafka down" beside a relay "starting".
    background = services.background
    return health.local_report(
        background.relay if background else None, background.tasks if background else []
    )


async def metrics_endpoint(request: Request) -> Response:
    services = _services(request)
    snapshot = None
    try:
        snapshot = health.snapshot(await _read_delivery(services), health_policy(services.settings))
    except DATABASE_ERRORS:
        snapshot = None
    body = metrics.render(snapshot, database_up=snapshot is not None)
    return Response(body, media_type=metrics.CONTENT_TYPE)


async def http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # noqa: S101 - Starlette registers this for HTTPException only
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(code, exc.status_code, str(exc.detail), dict(exc.headers or {}))


async def internal_error(_request: Request, exc: Exception) -> Response:
    log.error("http.internal_error", error=type(exc).__name__)
    return error_response("internal_error", 500, "unexpected error; it has been logged")


def create_app(
    settings: Settings | None = None,
    config: SourcesConfig | None = None,
    *,
    run_relay: bool | None = None,
    outbound: OutboundClient | None = None,
) -> Starlette:
    """`outbound` replaces the client for certificates and confirmations (tests inject a fake
    transport through it)."""
    settings = settings or load_settings()
    config = config or load_config(settings)
    relay_enabled = settings.run_relay if run_relay is None else run_relay

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        database = await Database.open(settings)
        background = Background(settings, database, config, HANDLERS) if relay_enabled else None
        client = outbound or OutboundClient()
        confirmations: set[asyncio.Task[None]] = set()
        committer = (
            GroupCommitter(
                settings.database_url,
                database.store,
                writers=settings.db_writers,
                timeout=settings.db_timeout_seconds,
            )
            if settings.group_commit and not database.is_sqlite
            else None
        )
        ingestor = Ingestor(
            config,
            database.store,
            HANDLERS,
            DocumentResolver(client),
            on_commit=background.wake if background else None,
            confirm=confirmer(client, confirmations),
            max_record_bytes=settings.kafka_max_request_size,
            retry_policy=retry_policy(settings),
            recorder=committer,
        )
        app.state.services = Services(settings, database, ingestor, background)
        if committer is not None:
            await committer.start()
        if background is not None:
            background.start()
        log.info(
            "server.started",
            sources=sorted(config.sources),
            sink="kafka" if settings.kafka_enabled else "file",
            relay=relay_enabled,
        )
        try:
            yield
        finally:
            if committer is not None:
                await committer.close()
            if background is not None:
                await background.stop()
            if confirmations:  # let confirmations under way finish, briefly
                await asyncio.wait(confirmations, timeout=10)
            await client.close()
            await database.close()
            log.info("server.stopped")

    return Starlette(
        routes=[
            Route("/webhooks/{source}", receive_webhook, methods=["POST", "GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
        ],
        middleware=edge_middleware(settings),
        exception_handlers={HTTPException: http_error, Exception: internal_error},
        lifespan=lifespan,
    )


def edge_middleware(settings: Settings) -> list[Middleware]:
    """Outermost first (see `ingest.edge`)."""
    return [
        Middleware(RequestIdMiddleware),
        Middleware(TrustedProxiesMiddleware, trusted=settings.trusted_networks),
        Middleware(
            AdmissionMiddleware,
            limit=settings.max_in_flight,
            wait_seconds=settings.admission_wait_seconds,
            retry_after_seconds=settings.retry_after_seconds,
        ),
        Middleware(
            BodyLimitMiddleware,
            max_bytes=settings.max_body_bytes,
            idle_seconds=settings.body_idle_timeout_seconds,
            total_seconds=settings.body_timeout_seconds,
        ),
    ]


def create_relay_app(settings: Settings, config: SourcesConfig) -> Starlette:
    """`ingest relay --port`: the relay, with `/healthz`, `/readyz` and `/metrics` for probes."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        database = await Database.open(settings)
        background = Background(settings, database, config, HANDLERS)
        app.state.services = Services(settings, database, None, background)
        background.start()
        log.info("relay.process_started", sink="kafka" if settings.kafka_enabled else "file")
        try:
            yield
        finally:
            await background.stop()
            await database.close()
            log.info("relay.process_stopped", published=background.relay.published)

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error, Exception: internal_error},
        lifespan=lifespan,
    )


def create_app_from_environment() -> Starlette:
    """Factory for `uvicorn --factory` (used by `ingest serve --workers N`)."""
    settings = load_settings()
    configure(settings.log_format, settings.log_level)
    configure_protocol(settings)
    return create_app(settings)
