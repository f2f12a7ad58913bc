"""What a run of `bench/ingest_rate.py` measured, and how it is summarized and written out:
the phases, medians over rounds and per-round ratios, issue 7's targets, the terminal summary,
the Markdown table (`bench/results/*.md`, the README's Performance section) and the JSON.

Kept apart from the orchestration so that the numbers' definitions (what a ratio divides, which
latencies a percentile pools) can be read in one place.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from inbox_fill import FillResult
from loadgen import Kind

BENCH_DIR = Path(__file__).resolve().parent

# The targets of issue 7, printed next to the measurements (never asserted).
TARGET_RATE_RATIO = 0.25
TARGET_CPU_RATIO = 4.0
TARGET_P99_CONCURRENCY = 16
TARGET_P99_MS = 25.0
TARGET_ACK_TO_KAFKA_RATE = 500.0
TARGET_ACK_TO_KAFKA_P99_MS = 50.0


@dataclass(frozen=True)
class CpuWindow:
    """CPU used over one timed phase, in cores (1.0 = one core busy for the whole phase)."""

    server: float
    client: float
    machine_busy: float
    steal: float
    """Fraction of the machine's CPU time stolen by the hypervisor."""


# -- phases --------------------------------------------------------------------------------------

Mode = Literal["closed", "open"]


@dataclass
class Phase:
    """One timed run against one server, with what it cost and (ingest) how long the relay took."""

    label: str
    """What `summarize` groups rounds by, e.g. `ingest c=16`."""
    kind: Kind
    mode: Mode
    round: int
    concurrency: int | None
    """In-flight requests (closed loop); None for an open-loop phase."""
    target_rate: float | None
    """Requests per second on the timetable (open loop); None for a closed loop."""
    inbox_rows: int
    """Rows in the inbox when the phase started (what the run put there)."""
    requests: int
    seconds: float
    latencies: list[float]
    redelivery_latencies: list[float]
    failure_count: int
    warmup_failure_count: int
    failures: list[str]
    cpu: CpuWindow
    ids: list[int]
    accepted: list[str]
    duplicates: list[tuple[str, int]]
    ack_times: dict[str, float]
    lateness: list[float]
    last_ack: float
    """time.perf_counter() of the last timed response."""
    redeliveries: int = 0
    """Timed requests that were redeliveries (expected `duplicate`)."""
    drain_seconds: float | None = None
    """From the last ack until the sink held every accepted event (ingest only)."""
    ack_to_readable: list[float] = field(default_factory=list)
    """Per timed event (open loop): readable in the sink minus its 2xx arriving, seconds."""
    lost: int | None = None
    """Timed events acknowledged but never readable (open loop)."""

    @property
    def rate(self) -> float:
        """Successful requests per second: failures are fast and would flatter the rate."""
        return len(self.latencies) / self.seconds if self.seconds > 0 else math.nan

    @property
    def server_ms_per_request(self) -> float:
        """Server CPU (all its threads: the relay's work included) per timed request."""
        if not self.requests:
            return math.nan
        return self.cpu.server * self.seconds / self.requests * 1000

    def percentile_ms(self, p: float) -> float:
        return percentile(self.latencies, p) * 1000


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile: an observed latency, never an interpolation between two."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


# -- a run -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    requests: int
    bare_requests: int
    warmup: int
    concurrencies: tuple[int, ...]
    """Closed-loop concurrencies; the first is the one the redelivery and big-inbox phases use."""
    rounds: int
    database_url: str | None
    kafka: str | None
    client: str
    client_processes: int
    server_env: dict[str, str]
    drain_timeout: float
    keep: bool
    json_path: Path | None
    results_dir: Path | None
    redelivery_share: float
    open_loop_rate: float
    open_loop_seconds: float
    big_inbox_rows: int
    """0: no big-inbox phases."""
    big_inbox_outbox: bool

    @property
    def primary(self) -> int:
        return self.concurrencies[0]


def rows_label(rows: int) -> str:
    """5000000 -> `5M-row`, 250000 -> `250k-row`."""
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if rows >= size and rows % (size // 10) == 0:
            return f"{rows / size:g}{unit}-row"
    return f"{rows}-row"


class Labels:
    """Phase names: `summarize` groups rounds by them and the tables show them."""

    def __init__(self, options: Options) -> None:
        self.options = options

    def closed(self, kind: Kind, concurrency: int, *, big: bool = False) -> str:
        suffix = f", {rows_label(self.options.big_inbox_rows)} inbox" if big else ""
        return f"{kind} c={concurrency}{suffix}"

    @property
    def redeliveries(self) -> str:
        share = self.options.redelivery_share
        return f"ingest c={self.options.primary} +{share:.0%} redeliveries"

    @property
    def open_loop(self) -> str:
        return f"ingest {self.options.open_loop_rate:g}/s open loop"


@dataclass
class Report:
    configuration: dict[str, Any]
    machine: dict[str, Any]
    phases: list[Phase] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Oddities worth reading next to the numbers (load, skipped checks); not failures."""
    sink_records: int | None = None
    accepted_events: int = 0
    server_log_lines: int | None = None
    server_duplicates: float | None = None
    """The service's own ingest_webhook_duplicates_total at the end, when it could be read."""
    fill: FillResult | None = None
    started_at: str = ""
    """UTC, for people: `2026-12-01 23:40:00 UTC`."""
    stamp: str = ""
    """UTC, for file names: `20261201T234000Z`."""
    wall_seconds: float = math.nan

    @property
    def failed_requests(self) -> int:
        return sum(p.failure_count + p.warmup_failure_count for p in self.phases)

    @property
    def failed(self) -> bool:
        return bool(self.problems) or self.failed_requests > 0


# -- output --------------------------------------------------------------------------------------

PERCENTILES = (50, 90, 99, 100)


def bottlenecks(phase: Phase, client_processes: int) -> list[str]:
    """What limited a phase besides the server: the rate means little if the client was full.

    A bare server has nothing to wait for but the CPU, so a bare phase whose server got less
    than 0.9 of a core on a full machine was starved (by the client, PostgreSQL, Kafka or
    another job), and its rate understates the ceiling. An ingest server below one core is
    normal: it waits for the database.
    """
    notes = []
    cores = os.cpu_count() or 1
    saturated = phase.cpu.machine_busy >= 0.95 * cores
    if phase.cpu.client >= 0.9 * client_processes:
        notes.append("client-bound")
    elif phase.kind == "bare" and saturated and phase.cpu.server < 0.9:
        notes.append("server short of CPU")
    if saturated:
        notes.append("machine saturated")
    if phase.cpu.steal >= 0.05:
        notes.append(f"stolen: {phase.cpu.steal:.0%}")
    if phase.mode == "open" and phase.target_rate:
        late = percentile(phase.lateness, 99) * 1000
        if phase.rate < 0.95 * phase.target_rate:
            # Requests queued for connections behind the backlog: lateness is the server's.
            notes.append(f"server below the offered rate: {phase.rate:.0f}/s")
        elif late > 5:
            notes.append(f"client behind its timetable: p99 {late:.0f} ms late")
    return notes


def ms(seconds: float) -> float:
    return seconds * 1000


def print_phase(phase: Phase, client_processes: int) -> None:
    extra = ""
    if phase.drain_seconds is not None:
        extra += f"  drain {ms(phase.drain_seconds):4.0f} ms"
    if phase.redeliveries:
        extra += (
            f"  redeliveries {phase.redeliveries} -> {len(phase.duplicates)} duplicate,"
            f" p99 {ms(percentile(phase.redelivery_latencies, 99)):.1f} ms"
        )
    if phase.mode == "open":
        extra += (
            f"  ack->readable p50 {ms(percentile(phase.ack_to_readable, 50)):.1f}"
            f" p99 {ms(percentile(phase.ack_to_readable, 99)):.1f} ms, lost {phase.lost}"
        )
    failures = phase.failure_count + phase.warmup_failure_count
    notes = [*bottlenecks(phase, client_processes), *([f"{failures} FAILED"] if failures else [])]
    print(
        f"  round {phase.round} {phase.label:<30} {phase.requests:6d} req {phase.rate:7.0f} req/s"
        f"  p50 {phase.percentile_ms(50):6.1f}  p99 {phase.percentile_ms(99):6.1f} ms"
        f"  cpu server {phase.cpu.server:.2f} client {phase.cpu.client:.2f}"
        f" machine {phase.cpu.machine_busy:.2f}/{os.cpu_count()}"
        f"  {phase.server_ms_per_request:.3f} ms/req{extra}"
        f"{'  (' + ', '.join(notes) + ')' if notes else ''}",
        flush=True,
    )
    for failure in phase.failures:
        print(f"      failure: {failure}", flush=True)


def median(values: Sequence[float]) -> float:
    clean = [v for v in values if not math.isnan(v)]
    return statistics.median(clean) if clean else math.nan


def summarize_phases(phases: Sequence[Phase], client_processes: int) -> dict[str, Any]:
    """Medians over rounds (robust to one disturbed round); latency over all rounds' requests."""
    latencies = [latency for p in phases for latency in p.latencies]
    notes: dict[str, int] = {}
    for phase in phases:
        for note in bottlenecks(phase, client_processes):
            key = note.split(":")[0]
            notes[key] = notes.get(key, 0) + 1
    row: dict[str, Any] = {
        "kind": phases[0].kind,
        "mode": phases[0].mode,
        "concurrency": phases[0].concurrency,
        "target_rate": phases[0].target_rate,
        "rounds": len(phases),
        "requests_per_phase": phases[0].requests,
        "inbox_rows_at_start": [p.inbox_rows for p in phases],
        "rate_per_round": [p.rate for p in phases],
        "rate_median": median([p.rate for p in phases]),
        **{f"p{p}_ms": ms(percentile(latencies, p)) for p in PERCENTILES},
        "server_cpu_median": median([p.cpu.server for p in phases]),
        "client_cpu_median": median([p.cpu.client for p in phases]),
        "machine_busy_median": median([p.cpu.machine_busy for p in phases]),
        "server_cpu_ms_per_request": median([p.server_ms_per_request for p in phases]),
        "drain_ms": [ms(p.drain_seconds) for p in phases if p.drain_seconds is not None],
        "notes": [f"{note} ({count}/{len(phases)})" for note, count in notes.items()],
    }
    if any(p.redeliveries for p in phases):
        redelivered = [latency for p in phases for latency in p.redelivery_latencies]
        row["redeliveries"] = {
            "sent": sum(p.redeliveries for p in phases),
            "duplicate_answers": sum(len(p.duplicates) for p in phases),
            **{f"p{p}_ms": ms(percentile(redelivered, p)) for p in PERCENTILES},
        }
    if phases[0].mode == "open":
        readable = [delay for p in phases for delay in p.ack_to_readable]
        lateness = [late for p in phases for late in p.lateness]
        row["ack_to_readable_ms"] = {
            "events": len(readable),
            "lost": sum(p.lost or 0 for p in phases),
            "min": ms(min(readable)) if readable else math.nan,
            **{f"p{p}": ms(percentile(readable, p)) for p in PERCENTILES},
            "p99_per_round": [ms(percentile(p.ack_to_readable, 99)) for p in phases],
        }
        row["lateness_ms"] = {
            "p99": ms(percentile(lateness, 99)),
            "max": ms(max(lateness)) if lateness else math.nan,
        }
    return row


def paired(
    phases: Sequence[Phase], numerator: str, denominator: str, value: Callable[[Phase], float]
) -> list[float]:
    """Per round, value(numerator's phase) / value(denominator's phase): the ratio method, so
    that drift between rounds cancels out within each pair."""
    tops = {p.round: p for p in phases if p.label == numerator}
    bottoms = {p.round: p for p in phases if p.label == denominator}
    return [
        value(tops[r]) / value(bottoms[r])
        for r in sorted(tops)
        if r in bottoms and value(bottoms[r]) > 0
    ]


def rate_of(phase: Phase) -> float:
    return phase.rate


def cpu_of(phase: Phase) -> float:
    return phase.server_ms_per_request


def summarize(report: Report, options: Options) -> dict[str, Any]:
    labels = Labels(options)
    phases = report.phases
    names = list(dict.fromkeys(p.label for p in phases))
    rows = {
        name: summarize_phases([p for p in phases if p.label == name], options.client_processes)
        for name in names
    }
    ratios: dict[str, dict[str, Any]] = {}

    def add(name: str, values: list[float]) -> None:
        if values:
            ratios[name] = {"median": median(values), "per_round": values}

    for c in options.concurrencies:
        ingest, bare = labels.closed("ingest", c), labels.closed("bare", c)
        add(f"ingest/bare rate, c={c}", paired(phases, ingest, bare, rate_of))
        add(f"ingest/bare server CPU per request, c={c}", paired(phases, ingest, bare, cpu_of))
    primary = labels.closed("ingest", options.primary)
    if options.redelivery_share > 0:
        add(
            f"{labels.redeliveries} / ingest c={options.primary}, rate",
            paired(phases, labels.redeliveries, primary, rate_of),
        )
    summary: dict[str, Any] = {"phases": rows, "ratios": ratios}
    if options.big_inbox_rows and report.fill is not None:
        big_ingest = labels.closed("ingest", options.primary, big=True)
        big_bare = labels.closed("bare", options.primary, big=True)
        rows_text = rows_label(options.big_inbox_rows)
        big_ratios = paired(phases, big_ingest, big_bare, rate_of)
        add(f"ingest/bare rate, c={options.primary}, {rows_text} inbox", big_ratios)
        add(
            f"ingest/bare server CPU per request, c={options.primary}, {rows_text} inbox",
            paired(phases, big_ingest, big_bare, cpu_of),
        )
        empty_ratio = ratios.get(f"ingest/bare rate, c={options.primary}", {}).get("median")
        big_row, empty_row = rows.get(big_ingest, {}), rows.get(primary, {})

        def big_over_empty(key: str) -> float:
            big, empty = big_row.get(key, math.nan), empty_row.get(key, math.nan)
            return big / empty if empty else math.nan

        # The two halves are minutes apart, so drift on a shared machine does not cancel as it
        # does within a round: the rate ratio, the ratio of ingest/bare ratios and the ratio of
        # CPU per request fail differently when the machine's load changes; all three are kept.
        summary["big_inbox"] = {
            **report.fill.as_dict(),
            "with_outbox": options.big_inbox_outbox,
            "ingest_rate_big_over_empty": big_over_empty("rate_median"),
            "ratio_big_over_empty": (
                median(big_ratios) / empty_ratio if empty_ratio and big_ratios else math.nan
            ),
            "cpu_per_request_big_over_empty": big_over_empty("server_cpu_ms_per_request"),
            "p99_big_over_empty": big_over_empty("p99_ms"),
        }
    summary["targets"] = targets(options, summary)
    return summary


def targets(options: Options, summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 7's targets next to what was measured: printed, never asserted.

    Each entry: the target's text, the measured value, the limit, whether the value must be at
    least (`floor`) or at most the limit, and `pass` (None when it does not apply to this run,
    with `not_applicable` saying why: a file sink cannot show an ack -> Kafka latency)."""
    labels = Labels(options)
    ratios, rows = summary["ratios"], summary["phases"]
    found: list[dict[str, Any]] = []

    def target(
        text: str,
        value: float | None,
        limit: float,
        unit: str,
        *,
        floor: bool = False,
        why: str = "",
    ) -> None:
        passed: bool | None = None
        if value is not None and not math.isnan(value) and not why:
            passed = value >= limit if floor else value <= limit
        entry = {"target": text, "measured": value, "limit": limit, "unit": unit, "pass": passed}
        found.append(entry | ({"not_applicable": why} if why else {}))

    for c in options.concurrencies:
        target(
            f"throughput >= {TARGET_RATE_RATIO:g} x bare (c={c})",
            ratios.get(f"ingest/bare rate, c={c}", {}).get("median"),
            TARGET_RATE_RATIO,
            "x bare rate",
            floor=True,
        )
    for c in options.concurrencies:
        target(
            f"server CPU per accepted webhook <= {TARGET_CPU_RATIO:g} x bare's per request (c={c})",
            ratios.get(f"ingest/bare server CPU per request, c={c}", {}).get("median"),
            TARGET_CPU_RATIO,
            "x bare CPU",
        )
    c = TARGET_P99_CONCURRENCY
    row = rows.get(labels.closed("ingest", c))
    target(
        f"p99 at concurrency {c} <= {TARGET_P99_MS:g} ms",
        row["p99_ms"] if row else None,
        TARGET_P99_MS,
        "ms",
        why="" if row else f"no phase at c={c}",
    )
    row = rows.get(labels.open_loop)
    why = "" if row else "no open-loop phase"
    if not options.kafka:
        why = "file sink, not Kafka"
    elif options.open_loop_rate != TARGET_ACK_TO_KAFKA_RATE:
        why = f"measured at {options.open_loop_rate:g}/s, not {TARGET_ACK_TO_KAFKA_RATE:g}/s"
    target(
        f"ack -> Kafka p99 <= {TARGET_ACK_TO_KAFKA_P99_MS:g} ms at "
        f"{TARGET_ACK_TO_KAFKA_RATE:g} events/s",
        row["ack_to_readable_ms"]["p99"] if row else None,
        TARGET_ACK_TO_KAFKA_P99_MS,
        "ms",
        why=why,
    )
    return found


def verdict(entry: dict[str, Any]) -> str:
    if entry["pass"] is None:
        return "n/a" + (f" ({entry['not_applicable']})" if entry.get("not_applicable") else "")
    return "PASS" if entry["pass"] else "MISS"


def measured_text(entry: dict[str, Any]) -> str:
    value = entry["measured"]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if entry["unit"] == "ms":
        return f"{value:.1f} ms"
    return f"{value:.3f}" if entry["unit"] == "x bare rate" else f"{value:.1f}x"


def table_rows(summary: dict[str, Any]) -> list[list[str]]:
    """The main table: one row per phase label, in run order."""
    rows = []
    for name, row in summary["phases"].items():
        per_round = " ".join(f"{rate:.0f}" for rate in row["rate_per_round"])
        rows.append(
            [
                name,
                f"{row['rate_median']:.0f}",
                per_round,
                *(f"{row[f'p{p}_ms']:.1f}" for p in PERCENTILES),
                f"{row['server_cpu_median']:.2f}",
                f"{row['server_cpu_ms_per_request']:.3f}",
                ", ".join(row["notes"]),
            ]
        )
    return rows


TABLE_HEADER = [
    "phase",
    "req/s",
    "per round",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "max ms",
    "server CPU",
    "ms CPU/req",
    "flags",
]


def detail_lines(report: Report, summary: dict[str, Any], options: Options) -> list[str]:
    """Sentences under the tables: redeliveries, ack -> readable, the big inbox, the sink."""
    lines = []
    labels = Labels(options)
    rows = summary["phases"]
    if (row := rows.get(labels.redeliveries)) and "redeliveries" in row:
        red = row["redeliveries"]
        ratio = summary["ratios"].get(f"{labels.redeliveries} / ingest c={options.primary}, rate")
        counted = (
            "could not be read"
            if report.server_duplicates is None
            else f"{report.server_duplicates:.0f}"
        )
        effect = (
            f"; the phase ran at {ratio['median']:.2f}x the rate of the plain ingest phase "
            f"(per round: {' '.join(f'{v:.2f}' for v in ratio['per_round'])})"
            if ratio
            else ""
        )
        lines.append(
            f"Redeliveries: {red['sent']} sent ({options.redelivery_share:.0%} of each phase's "
            f"timed requests), {red['duplicate_answers']} answered `duplicate` with the "
            f"original's inbox id; the service's ingest_webhook_duplicates_total: {counted}. "
            f"Their own latency p50 {red['p50_ms']:.1f} / p99 {red['p99_ms']:.1f} ms{effect}."
        )
    if (row := rows.get(labels.open_loop)) and "ack_to_readable_ms" in row:
        ack = row["ack_to_readable_ms"]
        late = row["lateness_ms"]
        per_round = " ".join(f"{v:.1f}" for v in ack["p99_per_round"])
        lines.append(
            f"Ack -> readable ({'Kafka, read_committed' if options.kafka else 'file sink'}), "
            f"{options.open_loop_rate:g} events/s open loop for {options.open_loop_seconds:g} s "
            f"per round: p50 {ack['p50']:.1f}, p90 {ack['p90']:.1f}, p99 {ack['p99']:.1f}, "
            f"max {ack['p100']:.1f} ms (min {ack['min']:.1f}; p99 per round {per_round}) over "
            f"{ack['events']} events; lost {ack['lost']}. Sender lateness p99 {late['p99']:.1f}"
            f" ms, max {late['max']:.1f} ms."
        )
    if big := summary.get("big_inbox"):
        checkpoint = big["checkpoint_seconds"]
        lines.append(
            f"{rows_label(big['rows'])} inbox: filled with {big['rows']:,} processed events"
            + (" and as many published outbox records" if big["with_outbox"] else "")
            + f" in {big['total_seconds']:.0f} s (insert {big['insert_seconds']:.0f} s, vacuum/"
            f"analyze {big['vacuum_seconds']:.0f} s, checkpoint "
            + ("refused" if checkpoint is None else f"{checkpoint:.0f} s")
            + f"; inbox {big['inbox_bytes'] / 2**30:.1f} GiB, outbox "
            f"{big['outbox_bytes'] / 2**30:.1f} GiB). Against the empty-inbox phases of the same"
            f" run: ingest rate {big['ingest_rate_big_over_empty']:.2f}x, ingest/bare ratio "
            f"{big['ratio_big_over_empty']:.2f}x, server CPU per request "
            f"{big['cpu_per_request_big_over_empty']:.2f}x, p99 {big['p99_big_over_empty']:.2f}x."
        )
    drains = {
        name: " ".join(f"{v:.0f}" for v in row["drain_ms"])
        for name, row in rows.items()
        if row["drain_ms"]
    }
    if drains:
        lines.append(
            "Relay drain after the last ack, ms: "
            + "; ".join(f"{name}: {values}" for name, values in drains.items())
        )
    lines.append(
        f"Sink: {report.sink_records} records for {report.accepted_events} accepted events."
    )
    return lines


def caveats(report: Report, summary: dict[str, Any], options: Options) -> list[str]:
    """What in this run makes its numbers less trustworthy, said next to them."""
    found = []
    phases = report.phases
    bare = [p for p in phases if p.kind == "bare"]
    starved = [
        p
        for p in bare
        if {"client-bound", "server short of CPU"} & set(bottlenecks(p, options.client_processes))
    ]
    if starved:
        found.append(
            f"{len(starved)} of {len(bare)} bare phases did not get a full core for the bare "
            "server (client-bound, or the machine was full): the ceiling is understated, so the "
            "ingest/bare ratios are overstated"
        )
    saturated = [p for p in phases if p.cpu.machine_busy >= 0.95 * (os.cpu_count() or 1)]
    if len(saturated) * 2 >= len(phases) > 0:
        found.append(
            f"the machine was saturated in {len(saturated)} of {len(phases)} phases: rates are "
            "lower and latencies higher than on an idle machine"
        )
    open_row = summary["phases"].get(Labels(options).open_loop)
    if open_row and open_row["lateness_ms"]["p99"] > 10:
        ack = open_row["ack_to_readable_ms"]
        found.append(
            f"the open-loop sender ran late (p99 {open_row['lateness_ms']['p99']:.0f} ms, max "
            f"{open_row['lateness_ms']['max']:.0f} ms): this process was short of CPU, so the "
            "open-loop latencies include its lag and ack -> readable times (taken by the same "
            f"process) carry an error of that order; the smallest was {ack['min']:.0f} ms"
            + (", i.e. a record was seen before its ack was processed" if ack["min"] < 0 else "")
        )
    return found


def print_summary(report: Report, summary: dict[str, Any], options: Options) -> None:
    rows = table_rows(summary)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(TABLE_HEADER)]
    line = "  ".join(
        h.ljust(w) if i in {0, 2, 9} else h.rjust(w)
        for i, (h, w) in enumerate(zip(TABLE_HEADER, widths, strict=True))
    )
    print(f"\n{line}\n{'-' * len(line)}")
    for row in rows:
        print(
            "  ".join(
                c.ljust(w) if i in {0, 2, 9} else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    print()
    for name, ratio in summary["ratios"].items():
        per_round = " ".join(f"{v:.3f}" for v in ratio["per_round"])
        print(f"{name}: median {ratio['median']:.3f} (per round: {per_round})")
    print()
    for text in detail_lines(report, summary, options):
        print(text)
    level = options.server_env.get("INGEST_LOG_LEVEL", "warning")
    print(f"ingest server log: {report.server_log_lines} lines (INGEST_LOG_LEVEL={level})")
    print("\ntargets (issue 7; printed, not asserted):")
    for entry in summary["targets"]:
        print(f"  {verdict(entry):<5} {entry['target']}: measured {measured_text(entry)}")
    for note in report.notes:
        print(f"NOTE: {note}")
    for caveat in caveats(report, summary, options):
        print(f"WARNING: {caveat}")


def markdown(report: Report, summary: dict[str, Any], options: Options) -> str:
    """The results as Markdown, the table the README's Performance section shows."""
    machine = report.machine
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    pg = machine.get("postgresql")
    backends = (
        f"PostgreSQL {pg['server_version']} (fsync={pg['fsync']}, "
        f"synchronous_commit={pg['synchronous_commit']})"
        if pg
        else "SQLite"
    ) + (" + Kafka (transactions)" if options.kafka else " + file sink")
    load = machine["load_average_at_start"], machine.get("load_average_at_end", [])
    lines = [
        f"### ingest benchmark, {report.started_at}",
        "",
        f"{machine['cpus']} x {machine['cpu_model']}, {machine['memory_gib']:.0f} GiB, "
        f"Linux {machine['kernel']}; Python {machine['python']}; {versions}. {backends}. "
        f"Rounds: {options.rounds}; {options.requests} ingest / {options.bare_requests} bare "
        f"requests per phase after {options.warmup} warm-up, {options.client} client. "
        f"Wall time {report.wall_seconds / 60:.1f} min. Load average at start "
        + " ".join(f"{x:.2f}" for x in load[0])
        + ", at end "
        + " ".join(f"{x:.2f}" for x in load[1])
        + f"; machine busy while the benchmark idled: {machine['busy_cores_at_start']:.2f} cores"
        f" at start, {machine.get('busy_cores_at_end', math.nan):.2f} at end.",
        "",
        "| " + " | ".join(TABLE_HEADER) + " |",
        "|" + "|".join("---" for _ in TABLE_HEADER) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(summary)]
    lines += ["", "| ratio | median | per round |", "|---|---|---|"]
    for name, ratio in summary["ratios"].items():
        per_round = " ".join(f"{v:.3f}" for v in ratio["per_round"])
        lines.append(f"| {name} | **{ratio['median']:.3f}** | {per_round} |")
    for line in detail_lines(report, summary, options):  # one paragraph each
        lines += ["", line]
    lines.append("")
    lines += ["| target (issue 7) | measured | |", "|---|---|---|"]
    for entry in summary["targets"]:
        lines.append(f"| {entry['target']} | {measured_text(entry)} | {verdict(entry)} |")
    if report.notes:
        lines += ["", *(f"Note: {note}." for note in report.notes)]
    if found := caveats(report, summary, options):
        lines += ["", *(f"Caveat: {caveat}." for caveat in found)]
    lines += ["", f"Verdict: {'FAILED' if report.failed else 'OK'}."]
    return "\n".join(lines) + "\n"


def print_verdict(report: Report) -> None:
    if report.failed:
        print(f"FAILED: {report.failed_requests} failed requests", file=sys.stderr)
        for problem in report.problems:
            print(f"FAILED: {problem}", file=sys.stderr)
        print(f"logs kept in {report.configuration.get('workdir')}", file=sys.stderr)
    else:
        print(
            "OK: every request accepted (every redelivery answered duplicate), every accepted "
            "event in the sink exactly once"
        )


def git_revision() -> dict[str, Any]:
    """The commit measured, read without writing anything (`--no-optional-locks`: `status`
    would otherwise refresh the index)."""
    git = shutil.which("git")
    if git is None:
        return {}
    root = str(BENCH_DIR.parent)
    try:
        commit = subprocess.run(
            [git, "-C", root, "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            [git, "--no-optional-locks", "-C", root, "status", "--porcelain", "-uno"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"commit": commit, "modified_files": len(status.splitlines())}


def describe_machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = math.nan
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024 / 2**30
                break
    versions = {}
    packages = (
        "ingest",
        "uvicorn",
        "starlette",
        "uvloop",
        "httptools",
        "sqlalchemy",
        "asyncpg",
        "aiokafka",
        "pydantic",
        "httpx",
    )
    for package in packages:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": memory,
        "kernel": platform.release(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "git": git_revision(),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else [],
    }


def phase_document(phase: Phase) -> dict[str, Any]:
    bulky = {
        "latencies",
        "redelivery_latencies",
        "ids",
        "accepted",
        "duplicates",
        "ack_times",
        "lateness",
        "ack_to_readable",
    }
    document = {k: v for k, v in dataclasses.asdict(phase).items() if k not in bulky}
    document |= {
        "rate": phase.rate,
        "server_ms_per_request": phase.server_ms_per_request,
        "duplicate_answers": len(phase.duplicates),
        **{f"p{q}_ms": phase.percentile_ms(q) for q in PERCENTILES},
        "notes": bottlenecks(phase, 1),
    }
    if phase.redelivery_latencies:
        document["redelivery_p99_ms"] = ms(percentile(phase.redelivery_latencies, 99))
    if phase.mode == "open":
        document["ack_to_readable_ms"] = {
            f"p{q}": ms(percentile(phase.ack_to_readable, q)) for q in PERCENTILES
        }
        document["lateness_p99_ms"] = ms(percentile(phase.lateness, 99))
    return document


def results_document(report: Report, summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "started_at": report.started_at,
        "wall_seconds": report.wall_seconds,
        "machine": report.machine,
        "configuration": report.configuration,
        "summary": summary,
        "phases": [phase_document(p) for p in report.phases],
        "sink_records": report.sink_records,
        "accepted_events": report.accepted_events,
        "server_duplicates": report.server_duplicates,
        "server_log_lines": report.server_log_lines,
        "notes": report.notes,
        "problems": report.problems,
        "failed_requests": report.failed_requests,
        "ok": not report.failed,
    }


def write_results(report: Report, summary: dict[str, Any], options: Options) -> list[Path]:
    """`--json PATH`, and under `--results DIR`: <timestamp>.json, <timestamp>.md, latest.md."""
    document = json.dumps(results_document(report, summary), indent=2, default=str) + "\n"
    written = []
    if options.json_path:
        options.json_path.parent.mkdir(parents=True, exist_ok=True)
        options.json_path.write_text(document)
        written.append(options.json_path)
    if options.results_dir:
        directory = options.results_dir
        directory.mkdir(parents=True, exist_ok=True)
        stamp = report.stamp
        table = markdown(report, summary, options)
        for path, text in (
            (directory / f"{stamp}.json", document),
            (directory / f"{stamp}.md", table),
            (directory / "latest.md", table),
        ):
            path.write_text(text)
            written.append(path)
    return written
