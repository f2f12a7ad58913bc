"""Prometheus metrics: what this process counts, plus what the database says at scrape time.

Counters and histograms are process-local; under `ingest serve --workers N` they live in
prometheus-client's multiprocess files (`PROMETHEUS_MULTIPROC_DIR`, which `serve` sets up), so any
worker answering `/metrics` reports the sum of all. Gauges of shared state — outbox lag, parked
records, what each relay shard is doing — are read from the database when scraped, so they are
the same whichever process answers and need no multiprocess gauge modes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from typing_extensions import override

CONTENT_TYPE = CONTENT_TYPE_LATEST

HTTP_REQUESTS = Counter(
    "ingest_http_requests_total",
    "Webhook requests answered, by source, outcome and HTTP status.",
    ["source", "outcome", "status"],
)
HTTP_DURATION = Histogram(
    "ingest_http_request_duration_seconds",
    "Time from the request's arrival to the answer, webhooks only.",
    ["source"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
REJECTIONS = Counter(
    "ingest_webhook_rejections_total",
    "Webhooks refused, by source and machine-readable reason (the error code we answered).",
    ["source", "reason"],
)
DUPLICATES = Counter(
    "ingest_webhook_duplicates_total",
    "Redeliveries recognised by the inbox's unique key and stored once.",
    ["source"],
)
VERIFICATION_MATCHES = Counter(
    "ingest_verification_matches_total",
    "Verified deliveries by the index of the configured secret that matched: when an old "
    "secret's count stops growing, it can be retired.",
    ["source", "secret_index"],
)
PUBLISHED = Counter(
    "ingest_relay_published_records_total",
    "CloudEvents the relay published (acknowledged by the sink; committed, with transactions).",
    ["topic"],
)
PUBLISH_LATENCY = Histogram(
    "ingest_relay_publish_latency_seconds",
    "From the outbox commit (the vendor's acknowledgement) to the sink's acknowledgement.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
)
TRANSACTIONS = Counter(
    "ingest_relay_transactions_total",
    "Sink transactions (Kafka transactions, or file appends) by result.",
    ["result"],
)
PARKED = Counter(
    "ingest_relay_parked_records_total",
    "Records the sink refused for good and the relay parked, by reason.",
    ["reason"],
)
KAFKA_ERRORS = Counter(
    "ingest_kafka_errors_total",
    "Errors talking to Kafka, by cause (authentication_failed, certificate_not_trusted, "
    "unreachable, timeout, fenced, record_rejected, topic_missing, other).",
    ["reason"],
)
TASK_RESTARTS = Counter(
    "ingest_task_restarts_total",
    "Background loops restarted by their supervisor after an exception.",
    ["task"],
)
ADMISSION_REFUSALS = Counter(
    "ingest_admission_refusals_total",
    "Webhooks answered 503 at once because INGEST_MAX_IN_FLIGHT were already in flight.",
)
EVENT_RETRIES = Counter(
    "ingest_event_retries_total",
    "Automatic re-normalizations of events whose handler failed transiently, by result.",
    ["result"],
)


@dataclass(frozen=True)
class ShardGauge:
    shard: int
    holder: str
    state: str
    heartbeat_age_seconds: float
    progress_age_seconds: float | None
    live: bool


@dataclass(frozen=True)
class StoreSnapshot:
    """Shared state read from the database for one scrape."""

    pending: int
    oldest_pending_age_seconds: float
    parked: int
    retrying_events: int
    failed_events: int
    shards: tuple[ShardGauge, ...] = field(default_factory=tuple)


class SnapshotCollector(Collector):
    def __init__(self, snapshot: StoreSnapshot) -> None:
        self.snapshot = snapshot

    @override
    def collect(self) -> Iterable[Metric]:
        snap = self.snapshot
        yield GaugeMetricFamily(
            "ingest_outbox_pending_records",
            "CloudEvents committed and not yet published (parked ones excluded).",
            value=snap.pending,
        )
        yield GaugeMetricFamily(
            "ingest_outbox_oldest_pending_age_seconds",
            "Age of the oldest CloudEvent still owed to the sink: the relay's lag.",
            value=snap.oldest_pending_age_seconds,
        )
        yield GaugeMetricFamily(
            "ingest_outbox_parked_records",
            "Records the sink refused for good, waiting for `ingest outbox retry`.",
            value=snap.parked,
        )
        events = GaugeMetricFamily(
            "ingest_inbox_unresolved_events",
            "Inbox events whose normalization failed, by status (retrying, failed).",
            labels=["status"],
        )
        events.add_metric(["retrying"], snap.retrying_events)
        events.add_metric(["failed"], snap.failed_events)
        yield events
        state = GaugeMetricFamily(
            "ingest_relay_shard_state",
            "1 for the state each relay shard last reported (stale heartbeats report `dead`).",
            labels=["shard", "state"],
        )
        heartbeat = GaugeMetricFamily(
            "ingest_relay_shard_heartbeat_age_seconds",
            "Seconds since the relay holding the shard last wrote its state.",
            labels=["shard"],
        )
        progress = GaugeMetricFamily(
            "ingest_relay_shard_progress_age_seconds",
            "Seconds since the shard last published or found its queue empty.",
            labels=["shard"],
        )
        for shard in snap.shards:
            label = str(shard.shard)
            state.add_metric([label, shard.state if shard.live else "dead"], 1)
            heartbeat.add_metric([label], shard.heartbeat_age_seconds)
            if shard.progress_age_seconds is not None:
                progress.add_metric([label], shard.progress_age_seconds)
        yield state
        yield heartbeat
        yield progress
        connected = any(s.live and s.state in {"healthy", "idle"} for s in snap.shards)
        yield GaugeMetricFamily(
            "ingest_kafka_connected",
            "1 when at least one live relay shard can publish to the sink.",
            value=1 if connected else 0,
        )


class _Families(Collector):
    def __init__(self, families: Iterator[Metric]) -> None:
        self.families = list(families)

    @override
    def collect(self) -> Iterable[Metric]:
        return self.families


def render(snapshot: StoreSnapshot | None, *, database_up: bool) -> bytes:
    """The exposition text: this process's (or all workers') counters, then the shared gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped upstream
        local = generate_latest(registry)
    else:
        local = generate_latest(REGISTRY)
    shared = CollectorRegistry()
    up = GaugeMetricFamily(
        "ingest_database_up", "1 when the database answered this scrape.", value=int(database_up)
    )
    families: list[Metric] = [up]
    if snapshot is not None:
        families.extend(SnapshotCollector(snapshot).collect())
    shared.register(_Families(iter(families)))
    return local + generate_latest(shared)
