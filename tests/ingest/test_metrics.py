"""`ingest.metrics.render`: the shared gauges a scrape reads from the database, as exposition text.

Operators alert on these (relay lag, parked records, a dead shard, Kafka unreachable), so what
each snapshot turns into is pinned here, parsed back with prometheus-client's own parser rather
than matched as text. Counters summed over `serve --workers N` are covered end to end in
`test_processes.py`; the app's `/metrics` in `test_health.py`.
"""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from ingest.metrics import ShardGauge, StoreSnapshot, render
from ingest.relay.states import RelayState


def _samples(exposition: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(exposition.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _shard(
    shard: int, state: str, *, live: bool = True, progress: float | None = 1.5
) -> ShardGauge:
    return ShardGauge(
        shard=shard,
        holder=f"relay-{shard}",
        state=state,
        heartbeat_age_seconds=2.0,
        progress_age_seconds=progress,
        live=live,
    )


SNAPSHOT = StoreSnapshot(
    pending=7,
    oldest_pending_age_seconds=42.5,
    parked=3,
    retrying_events=2,
    failed_events=1,
    shards=(
        _shard(0, RelayState.HEALTHY),
        _shard(1, RelayState.SINK_DOWN, live=False, progress=None),
    ),
)


def test_the_outbox_and_inbox_gauges_carry_the_snapshot() -> None:
    samples = _samples(render(SNAPSHOT, database_up=True))
    assert samples[("ingest_database_up", ())] == 1
    assert samples[("ingest_outbox_pending_records", ())] == 7
    assert samples[("ingest_outbox_oldest_pending_age_seconds", ())] == 42.5
    assert samples[("ingest_outbox_parked_records", ())] == 3
    assert samples[("ingest_inbox_unresolved_events", (("status", "retrying"),))] == 2
    assert samples[("ingest_inbox_unresolved_events", (("status", "failed"),))] == 1


def test_a_shard_whose_heartbeat_went_stale_reports_dead_not_its_last_state() -> None:
    """A relay that died keeps its last row; alerting on `sink_down` would miss it."""
    samples = _samples(render(SNAPSHOT, database_up=True))
    assert samples[("ingest_relay_shard_state", (("shard", "0"), ("state", "healthy")))] == 1
    assert samples[("ingest_relay_shard_state", (("shard", "1"), ("state", "dead")))] == 1
    assert not any(
        name == "ingest_relay_shard_state" and ("state", RelayState.SINK_DOWN) in labels
        for name, labels in samples
    )
    assert samples[("ingest_relay_shard_progress_age_seconds", (("shard", "0"),))] == 1.5
    # A shard that never published has no progress age rather than a made-up zero.
    assert ("ingest_relay_shard_progress_age_seconds", (("shard", "1"),)) not in samples


def test_kafka_counts_as_connected_only_through_a_live_shard_that_can_publish() -> None:
    def connected(*shards: ShardGauge) -> float:
        snapshot = StoreSnapshot(0, 0.0, 0, 0, 0, shards=shards)
        return _samples(render(snapshot, database_up=True))[("ingest_kafka_connected", ())]

    assert connected(_shard(0, RelayState.HEALTHY)) == 1
    assert connected(_shard(0, RelayState.IDLE)) == 1
    assert connected(_shard(0, RelayState.SINK_DOWN)) == 0
    assert connected(_shard(0, RelayState.HEALTHY, live=False)) == 0
    assert connected() == 0


def test_without_the_database_only_its_absence_is_reported() -> None:
    """No snapshot: no gauge pretends the outbox is empty while nobody can read it."""
    samples = _samples(render(None, database_up=False))
    assert samples[("ingest_database_up", ())] == 0
    assert not any(
        name.startswith(("ingest_outbox_", "ingest_relay_shard_")) for name, _ in samples
    )


def test_this_processs_counters_come_first_in_the_same_exposition() -> None:
    text = render(SNAPSHOT, database_up=True).decode()
    assert "# TYPE ingest_http_requests_total counter" in text
    assert text.index("ingest_http_requests_total") < text.index("ingest_database_up")
