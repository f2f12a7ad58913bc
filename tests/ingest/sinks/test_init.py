"""`ingest.sinks` (`__init__.py`): which sink the settings choose, and what choosing costs.

`make run` has no Kafka: without `KAFKA_BOOTSTRAP_SERVERS` the relay writes JSON lines to a
file. The Kafka client is imported only when Kafka is configured, so the file-sink path (and
every CLI command that never publishes) does not pay for aiokafka at start-up.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ingest.settings import Settings
from ingest.sinks import FileSink, sink_from_settings


def _settings(tmp_path: Path, bootstrap_servers: str) -> Settings:
    return Settings(
        INGEST_SOURCES_FILE=tmp_path / "sources.yaml",
        INGEST_SINK_FILE=tmp_path / "events.jsonl",
        KAFKA_BOOTSTRAP_SERVERS=bootstrap_servers,
    )


def test_without_kafka_the_relay_writes_to_the_configured_file(tmp_path: Path) -> None:
    sink = sink_from_settings(_settings(tmp_path, "  "))
    assert isinstance(sink, FileSink)
    assert sink.path == tmp_path / "events.jsonl"


def test_with_bootstrap_servers_the_relay_publishes_to_kafka(tmp_path: Path) -> None:
    from ingest.sinks.kafka import KafkaSink  # noqa: PLC0415 - the import under test is lazy

    sink = sink_from_settings(_settings(tmp_path, "broker-1:9092"))
    assert isinstance(sink, KafkaSink)
    assert sink.config.bootstrap_servers == "broker-1:9092"


def test_the_file_sink_path_never_imports_the_kafka_client(tmp_path: Path) -> None:
    probe = (
        "import sys; from pathlib import Path; from ingest.settings import Settings; "
        "from ingest.sinks import sink_from_settings; "
        f"sink_from_settings(Settings(INGEST_SOURCES_FILE=Path({str(tmp_path)!r}) / 's.yaml')); "
        "print(sorted(m for m in sys.modules if m.startswith('aiokafka')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
