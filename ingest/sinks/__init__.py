"""Where the relay publishes: Kafka in production, a JSON-lines file for `make run` and demos."""

from ingest.settings import Settings
from ingest.sinks.base import Cause, Publisher, PublishResult, Sink, SinkUnavailableError
from ingest.sinks.file import FileSink


def sink_from_settings(settings: Settings) -> Sink:
    if settings.kafka_enabled:
        # Imported here: aiokafka costs start-up time that the file sink never needs.
        from ingest.sinks.kafka import KafkaSink  # noqa: PLC0415
        from ingest.sinks.kafka_client import KafkaConfig  # noqa: PLC0415

        return KafkaSink(KafkaConfig.from_settings(settings))
    return FileSink(settings.sink_file)


__all__ = [
    "Cause",
    "FileSink",
    "PublishResult",
    "Publisher",
    "Sink",
    "SinkUnavailableError",
    "sink_from_settings",
]
