"""Where the relay publishes: Kafka in production, a JSON-lines file for `make run` and demos."""

from ingest.settings import Settings
from ingest.sinks.base import PublishResult, Sink, SinkUnavailableError
from ingest.sinks.file import FileSink
from ingest.sinks.kafka import KafkaSink


def sink_from_settings(settings: Settings) -> Sink:
    if settings.kafka_enabled and settings.kafka_bootstrap_servers:
        return KafkaSink(settings.kafka_bootstrap_servers)
    return FileSink(settings.sink_file)


__all__ = [
    "FileSink",
    "KafkaSink",
    "PublishResult",
    "Sink",
    "SinkUnavailableError",
    "sink_from_settings",
]
