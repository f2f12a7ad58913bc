"""The fault suite's table: printed at the end of every run that ran a scenario, and written to
`tests/faults/last-run.md` in the full mode (`make faults`), where it is the run's report."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.faults import harness

STARTED = time.monotonic()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not harness.RESULTS:
        return
    order = {name: index for index, name in enumerate(SCENARIOS)}
    outcomes = sorted(harness.RESULTS, key=lambda o: order.get(o.scenario, len(order)))
    document = harness.describe_run(outcomes, time.monotonic() - STARTED)
    terminalreporter.section(f"fault injection ({harness.MODE})")
    for line in document.splitlines():
        terminalreporter.write_line(line)
    if harness.FULL:
        harness.RESULTS_FILE.write_text(document)
        terminalreporter.write_line(f"written to {harness.RESULTS_FILE}")


SCENARIOS = (
    "serve_killed",
    "relay_killed",
    "two_relays_one_killed",
    "broker_killed",
    "postgres_restarted",
    "kafka_cut_by_proxy",
    "poison_record",
)


@pytest.fixture(scope="package")
def own_kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.OwnKafka]:
    """One broker for the package (starting one costs 6 to 10 s), behind the suite's proxy, so
    scenarios may kill it, cut it off or slow it down without disturbing any other test."""
    kafka = harness.OwnKafka(tmp_path_factory.mktemp("faults-kafka") / "kafka")
    try:
        kafka.start()
        yield kafka
    finally:
        kafka.stop()


@pytest.fixture
def own_kafka(own_kafka_cluster: harness.OwnKafka) -> harness.OwnKafka:
    own_kafka_cluster.reset()
    return own_kafka_cluster
