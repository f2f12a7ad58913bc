"""`ingest send` works for every vendor, as a new user would try the catalog: one sources.yaml
with a source per vendor (keys from `ingest keys generate`), a real server, a signed sample each."""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml
from click.testing import CliRunner

from ingest.cli import main
from ingest.handlers import HANDLERS
from tests import catalog, support


def test_every_vendor_sends_a_sample_that_the_server_accepts(tmp_path: Path) -> None:
    key_dir = tmp_path / ".ingest-keys"
    sources = {vendor: catalog.source_document(vendor, key_dir) for vendor in sorted(HANDLERS)}
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}))
    env = {  # the embedded defaults of `make run`: SQLite inbox, file sink
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'ingest.db'}",
        "KAFKA_BOOTSTRAP_SERVERS": "",
        "INGEST_SOURCES_FILE": str(tmp_path / "sources.yaml"),
        "INGEST_SINK_FILE": str(tmp_path / "events.jsonl"),
    }
    answers: dict[str, str] = {}
    with support.running_server(env, tmp_path) as server:
        # In-process (click's runner): 27 interpreter start-ups cost more than the sends and
        # once brought this test near pytest's timeout on a loaded machine. The same command,
        # arguments and environment; tests/ingest/cli/test_commands.py runs it as a process.
        runner = CliRunner()
        for vendor in sorted(HANDLERS):
            arguments = ["send", vendor, "--url", server.url, "--key-dir", str(key_dir)]
            result = runner.invoke(main, arguments, env=support.environment(env))
            assert result.exit_code == 0, f"{vendor}: {result.output}{result.exception!r}"
            answers[vendor] = result.output
        sink = tmp_path / "events.jsonl"
        deadline = time.monotonic() + 15
        published: set[str] = set()
        while time.monotonic() < deadline:
            if sink.exists():
                published = {
                    json.loads(line)["vendor"] for line in sink.read_text().splitlines() if line
                }
            if published >= set(HANDLERS):
                break
            time.sleep(0.2)
    assert "Traceback" not in server.log()
    # Every vendor's default sample is an event, not a handshake, so each shows up in the sink.
    missing = set(HANDLERS) - published
    assert not missing, f"no CloudEvent from {sorted(missing)}: {answers}"
