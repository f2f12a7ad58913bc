"""ingest/sinks/base.py: the protocol between the relay and its sinks.

What the relay relies on and checks here: a `SinkUnavailableError` keeps the operator-facing
message and its cause (the cause's value labels a metric and names the outage in `/readyz`, so
the names are a contract), and is one of the service's own errors; a `PublishResult` that says
nothing about refusals has refused nothing, and never shares its refusals with another result;
both sinks and all three publishers fulfil the protocols (statically, through the annotations
mypy checks below, and at run time through the `exactly_once` flag the worker reads). Building a
Kafka publisher connects to nothing, so these run in the `--fast` tier."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ingest.errors import IngestError
from ingest.settings import Settings
from ingest.sinks.base import (
    Cause,
    Publisher,
    PublishResult,
    Rejection,
    RejectionKind,
    Sink,
    SinkUnavailableError,
)
from ingest.sinks.file import FileSink
from ingest.sinks.kafka import IdempotentPublisher, KafkaSink, TransactionalPublisher
from ingest.sinks.kafka_client import KafkaConfig


def kafka_config(*, transactions: bool) -> KafkaConfig:
    return KafkaConfig.from_settings(
        Settings(KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9", INGEST_KAFKA_TRANSACTIONS=transactions)
    )


def test_an_outage_keeps_its_message_and_cause() -> None:
    error = SinkUnavailableError("cannot append to /data/events.jsonl", Cause.WRITE_FAILED)
    assert error.message == "cannot append to /data/events.jsonl"
    assert str(error) == error.message
    assert error.cause is Cause.WRITE_FAILED


def test_an_outage_without_a_known_cause_is_other() -> None:
    assert SinkUnavailableError("something broke").cause is Cause.OTHER


def test_an_outage_is_one_of_the_services_own_errors() -> None:
    with pytest.raises(IngestError):
        raise SinkUnavailableError("down", Cause.UNREACHABLE)


def test_the_cause_names_are_the_metric_labels_operators_alert_on() -> None:
    assert {cause.value for cause in Cause} == {
        "authentication_failed",
        "certificate_not_trusted",
        "unreachable",
        "timeout",
        "fenced",
        "authorization_failed",
        "write_failed",
        "other",
    }


def test_a_result_that_names_no_refusal_has_refused_nothing_and_shares_nothing() -> None:
    first, second = PublishResult(delivered=[1, 2]), PublishResult(delivered=[])
    assert first.rejected == {}
    first.rejected[1] = Rejection(RejectionKind.RECORD, "record_too_large", "too large")
    assert second.rejected == {}


def test_a_rejection_cannot_be_changed_after_the_fact() -> None:
    rejection = Rejection(RejectionKind.SUSPECT, "record_too_large", "MessageSizeTooLarge")
    with pytest.raises(dataclasses.FrozenInstanceError):
        rejection.kind = RejectionKind.RECORD  # type: ignore[misc]


def test_the_rejection_kinds_are_record_suspect_and_missing_topic() -> None:
    assert [kind.value for kind in RejectionKind] == ["record", "suspect", "topic_missing"]


def test_both_sinks_are_sinks_and_name_themselves(tmp_path: Path) -> None:
    sinks: list[Sink] = [
        FileSink(tmp_path / "events.jsonl"),
        KafkaSink(kafka_config(transactions=True)),
    ]
    assert [sink.name for sink in sinks] == ["file", "kafka"]


def test_only_the_transactional_publisher_says_it_is_exactly_once(tmp_path: Path) -> None:
    transactional = KafkaSink(kafka_config(transactions=True))
    transactional.instance = "0123456789abcdef"  # what `prepare` sets, from the database
    publishers: list[Publisher] = [
        FileSink(tmp_path / "events.jsonl").publisher(0),
        transactional.publisher(0),
        KafkaSink(kafka_config(transactions=False)).publisher(0),
    ]
    assert [type(p) for p in publishers[1:]] == [TransactionalPublisher, IdempotentPublisher]
    assert [p.exactly_once for p in publishers] == [False, True, False]
