"""What every command shares (`ingest.cli.common`): errors become one line and a documented exit
code — 3 for the environment, 4 for a database that is unreachable or not migrated, 2 for a
time option that is neither ISO 8601 nor an age — and times are read as UTC unless they say
otherwise. Scripts rely on these codes (the README's table), so each is checked as a user meets
it, through a command that uses the shared code (`ingest events list`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from ingest.cli import main
from ingest.cli.common import CommandError, ExitCode, parse_moment
from tests import support


def events_list(env: dict[str, str], *arguments: str) -> Result:
    return CliRunner().invoke(main, ["events", "list", *arguments], env=env)


def moment(value: str) -> tuple[datetime | None, dict[str, object]]:
    ctx = click.Context(click.Command("probe"))
    parsed = parse_moment(ctx, click.Option(["--since"]), value)
    return parsed, ctx.meta


def test_an_invalid_environment_variable_exits_3_naming_it(demo_env: dict[str, str]) -> None:
    result = events_list({**demo_env, "INGEST_MAX_BODY_BYTES": "-1"})
    assert result.exit_code == ExitCode.CONFIG
    assert result.stderr.startswith("Error: invalid environment:")
    assert "INGEST_MAX_BODY_BYTES" in result.stderr
    assert "Traceback" not in result.output


def test_an_unreachable_database_exits_4_without_showing_the_url(
    demo_env: dict[str, str],
) -> None:
    url = f"postgresql://ingest:db-password-2@127.0.0.1:{support.free_port()}/ingest"
    result = events_list({**demo_env, "DATABASE_URL": url})
    assert result.exit_code == ExitCode.DATABASE
    assert result.stderr.strip() == (
        "Error: the database is unreachable (ConnectionRefusedError); check DATABASE_URL"
    )


def test_a_sqlite_file_that_cannot_be_opened_exits_4(demo_dir: Path) -> None:
    # As a process: aiosqlite's worker thread outlives a failed connect and reports to the
    # closed event loop, which pytest would pin on whichever test runs next.
    url = f"sqlite:///{demo_dir / 'no-such-directory' / 'ingest.db'}"
    result = support.run_cli({"DATABASE_URL": url}, demo_dir, "events", "list")
    assert result.returncode == ExitCode.DATABASE
    assert "the database is unreachable (OperationalError)" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_database_that_is_not_migrated_exits_4_and_says_to_migrate(
    postgres_server_url: str, demo_env: dict[str, str]
) -> None:
    url = asyncio.run(support.create_database(postgres_server_url))
    result = events_list({**demo_env, "DATABASE_URL": url})
    assert result.exit_code == ExitCode.DATABASE
    assert "the database schema is at nothing" in result.stderr
    assert "run `ingest migrate` first" in result.stderr


def test_a_time_that_is_neither_iso_nor_an_age_is_a_usage_error(
    demo_env: dict[str, str],
) -> None:
    result = events_list(demo_env, "--since", "yesterday")
    assert result.exit_code == ExitCode.USAGE
    assert "'yesterday' is neither ISO 8601 nor an age like 30m, 2h, 7d" in result.stderr


@pytest.mark.parametrize("age", ["999999d", "99999999999d", "9" * 40 + "s"])
def test_an_age_further_back_than_a_date_can_go_is_a_usage_error(
    demo_env: dict[str, str], age: str
) -> None:
    result = events_list(demo_env, "--since", age)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"{age!r} is further back than a date can go" in result.stderr
    assert "Traceback" not in result.output


def test_an_age_is_written_in_ascii_digits() -> None:
    with pytest.raises(click.BadParameter):
        moment("٣d")  # ARABIC-INDIC DIGIT THREE: int() reads it, an operator did not type it


@pytest.mark.parametrize(
    ("age", "delta"),
    [
        ("45s", timedelta(seconds=45)),
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_an_age_is_that_long_before_now(age: str, delta: timedelta) -> None:
    before = datetime.now(UTC)
    parsed, _ = moment(age)
    after = datetime.now(UTC)
    assert parsed is not None
    assert before - delta <= parsed <= after - delta


def test_an_iso_time_without_a_zone_is_utc_and_one_with_a_zone_keeps_it() -> None:
    assert moment("2026-01-02T03:04:05")[0] == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert moment("2026-01-02T03:04:05Z")[0] == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    plus_two = timezone(timedelta(hours=2))
    assert moment("2026-01-02T05:04:05+02:00")[0] == datetime(2026, 1, 2, 5, 4, 5, tzinfo=plus_two)


def test_the_time_as_typed_is_kept_for_the_replay_fingerprint() -> None:
    _, meta = moment("  2h ")
    assert meta["raw_since"] == "  2h "


def test_a_command_error_carries_its_exit_code_and_prints_one_line() -> None:
    @click.command()
    def failing() -> None:
        raise CommandError("the sky fell", ExitCode.UNREACHABLE)

    result = CliRunner().invoke(failing, [])
    assert result.exit_code == 5
    assert result.stderr == "Error: the sky fell\n"


def test_exit_codes_keep_their_documented_numbers() -> None:
    """The README and `ingest --help` document these numbers; scripts compare against them."""
    assert {code.name: int(code) for code in ExitCode} == {
        "OK": 0,
        "FAILED": 1,
        "USAGE": 2,
        "CONFIG": 3,
        "DATABASE": 4,
        "UNREACHABLE": 5,
        "INTERRUPTED": 130,
    }


@pytest.mark.parametrize(
    "arguments",
    [
        ["events", "show", "99999999999999999999999"],
        ["events", "show", "0"],
        ["replay", "99999999999999999999999", "--dry-run"],
        ["outbox", "retry", "--", "-5"],
        ["sns", "confirm", "99999999999999999999999"],
    ],
)
def test_an_id_no_row_can_have_is_a_usage_error(
    demo_env: dict[str, str], arguments: list[str]
) -> None:
    result = CliRunner().invoke(main, arguments, env=demo_env)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "is not in the range 1<=x<=9223372036854775807" in result.stderr
