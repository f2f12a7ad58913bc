"""`ingest send`: sign a sample (or a payload file) as the vendor would and post it; exit 0 on a
2xx, 1 on a refusal, 2 on a source or secret that is not configured, 5 if nothing answers.

Covered as a user meets it: the README's quickstart (send → server → CloudEvent in the file
sink), every vendor of the catalog (one sources.yaml with a source per vendor, keys from
`ingest keys generate`, a real server, a signed sample each), rotation, and the failures."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ingest.cli import main
from ingest.cli.common import ExitCode
from ingest.handlers import HANDLERS
from tests import catalog, support
from tests.ingest.cli.conftest import DEMO


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
        # arguments and environment; the other tests of this module run it as a process.
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


# -- moved from test_commands.py -------------------------------------------------------------


def test_quickstart_send_puts_a_normalized_cloudevent_in_the_sink(demo_dir: Path) -> None:
    """The README's promise: `make run`, `ingest send stripe` → a CloudEvent in events.jsonl."""
    with support.running_server({}, demo_dir) as server:
        sent = support.run_cli({}, demo_dir, "send", "stripe", "--url", server.url)
        assert sent.returncode == 0, sent.stderr
        assert "accepted" in sent.stdout
        sink = demo_dir / "events.jsonl"
        deadline = time.monotonic() + 10
        while not (sink.exists() and sink.read_text().strip()):
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.1)
        listed = support.run_cli({}, demo_dir, "events", "list", "--json")
    [event] = [json.loads(line) for line in sink.read_text().splitlines()]
    assert event["type"] == "payment.succeeded"
    assert event["data"]["amount"]["currency"] == "USD"
    assert (demo_dir / "ingest.db").exists()
    assert [json.loads(line)["status"] for line in listed.stdout.splitlines()] == ["processed"]
    assert "whsec_demo_stripe" not in server.log()


def test_send_rotation_with_the_second_secret(demo_dir: Path) -> None:
    result = support.run_cli({}, demo_dir, "send", "stripe", "--secret-index", "1")
    assert result.returncode == 2
    assert "has 1 secrets" in result.stderr


def test_send_to_nothing_listening_exits_5(demo_dir: Path) -> None:
    url = f"http://127.0.0.1:{support.free_port()}"
    result = support.run_cli({}, demo_dir, "send", "stripe", "--url", url)
    assert result.returncode == 5
    assert "cannot reach" in result.stderr


def test_send_rejected_exits_1(demo_dir: Path) -> None:
    with support.running_server({}, demo_dir) as server:
        other = demo_dir / "other"
        other.mkdir()
        (other / "sources.yaml").write_text(
            DEMO.read_text().replace("whsec_demo_stripe", "whsec_other")
        )
        result = support.run_cli({}, other, "send", "stripe", "--url", server.url)
    assert result.returncode == 1
    assert "invalid_signature" in result.stdout


def test_the_readmes_clerk_example_is_a_domain_event(demo_dir: Path) -> None:
    """The demo configures Clerk as Clerk: its user.created is identity.user.created, not the
    passthrough a generic Standard Webhooks source would publish."""
    with support.running_server({}, demo_dir) as server:
        sent = support.run_cli({}, demo_dir, "send", "clerk", "--url", server.url)
        assert sent.returncode == 0, sent.stderr
        sink = demo_dir / "events.jsonl"
        deadline = time.monotonic() + 10
        while not (sink.exists() and sink.read_text().strip()):
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.1)
    [event] = [json.loads(line) for line in sink.read_text().splitlines()]
    assert event["type"].startswith("identity.")


# -- new: answered before anything is posted (nothing listens at the URL) --------------------


def nowhere() -> str:
    return f"http://127.0.0.1:{support.free_port()}"


def test_an_unknown_source_exits_2_and_names_the_configured_ones(
    demo_env: dict[str, str],
) -> None:
    result = CliRunner().invoke(main, ["send", "strpe", "--url", nowhere()], env=demo_env)
    assert result.exit_code == ExitCode.USAGE
    assert "no source 'strpe'" in result.stderr
    assert "(known: clerk, github, stripe)" in result.stderr


def test_a_type_without_a_sample_falls_back_to_the_generic_shape_as_the_note_says(
    demo_env: dict[str, str],
) -> None:
    """The note promises a send with the vendor's default shape: the request is then signed and
    posted (here to nothing: exit 5), not abandoned with a traceback."""
    arguments = ["send", "stripe", "--type", "invoice.no_such_type", "--url", nowhere()]
    result = CliRunner().invoke(main, arguments, env=demo_env)
    assert "note: no built-in sample for 'invoice.no_such_type'" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code == ExitCode.UNREACHABLE
    assert "cannot reach" in result.stderr


def test_a_payload_file_is_posted_byte_for_byte(demo_dir: Path) -> None:
    """--file sends the payload as is: the server stores exactly those bytes, verified."""
    payload = demo_dir / "payment.json"
    body = {
        "id": "evt_from_a_file_0001",
        "object": "event",
        "type": "customer.created",
        "created": int(time.time()),
        "data": {"object": {"id": "cus_from_a_file", "object": "customer"}},
    }
    payload.write_text(json.dumps(body, indent=4) + "\n")
    with support.running_server({}, demo_dir) as server:
        sent = support.run_cli(
            {}, demo_dir, "send", "stripe", "--file", str(payload), "--url", server.url
        )
        assert sent.returncode == 0, sent.stderr
        event_id = json.loads(sent.stdout.split(" 200 ", 1)[1])["id"]
        shown = support.run_cli({}, demo_dir, "events", "show", str(event_id), "--json")
    document = json.loads(shown.stdout)
    assert document["vendor_event_id"] == "evt_from_a_file_0001"
    assert document["body"]["text"] == payload.read_text()


def test_a_vendor_that_signs_with_a_key_asks_for_the_key_and_exits_3(demo_dir: Path) -> None:
    (demo_dir / "sources.yaml").write_text(
        yaml.safe_dump({"sources": {"orders": {"vendor": "aws-sns", "topic_arns": ["x"]}}})
    )
    key_dir = demo_dir / "no-keys-here"
    result = support.run_cli(
        {}, demo_dir, "send", "orders", "--key-dir", str(key_dir), "--url", nowhere()
    )
    assert result.returncode == ExitCode.CONFIG, result.stderr
    assert "ingest keys generate" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://[::1", "is not a URL"),
        ("ftp://127.0.0.1", "is not an http(s) URL with a host"),
        ("http://", "is not an http(s) URL with a host"),
    ],
)
def test_a_url_ingest_cannot_be_served_at_is_a_usage_error(
    demo_env: dict[str, str], url: str, problem: str
) -> None:
    result = CliRunner().invoke(main, ["send", "stripe", "--url", url], env=demo_env)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert problem in result.stderr
    assert "Traceback" not in result.output
