"""What every command shares: exit codes, error translation, time parsing, async entry."""

from __future__ import annotations

import asyncio
import math
import re
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError

from ingest.errors import ConfigError, DatabaseNotMigratedError
from ingest.logs import configure
from ingest.settings import Settings, load_settings
from ingest.tables import STATUSES

P = ParamSpec("P")
T = TypeVar("T")


class ExitCode(IntEnum):
    """Documented in the README; scripts may rely on them."""

    OK = 0
    FAILED = 1
    USAGE = 2
    CONFIG = 3
    DATABASE = 4
    UNREACHABLE = 5
    INTERRUPTED = 130
    """Stopped by Ctrl-C (the shell's 128 + SIGINT); a replay resumes when run again."""


class CommandError(click.ClickException):
    def __init__(self, message: str, code: ExitCode) -> None:
        super().__init__(message)
        self.exit_code = int(code)  # type: ignore[misc]  # click reads it per instance too


def settings_for_cli() -> Settings:
    try:
        settings = load_settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise CommandError(f"invalid environment: {exc}", ExitCode.CONFIG) from None
    configure(settings.log_format, settings.log_level)
    return settings


def run_async(function: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, T]:
    """Run an async command body, turning our errors into messages and meaningful exit codes."""

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return asyncio.run(function(*args, **kwargs))
        except ConfigError as exc:
            raise CommandError(str(exc), ExitCode.CONFIG) from None
        except DatabaseNotMigratedError as exc:
            raise CommandError(str(exc), ExitCode.DATABASE) from None
        except (SQLAlchemyError, OSError) as exc:
            raise CommandError(
                f"the database is unreachable ({type(exc).__name__}); check DATABASE_URL",
                ExitCode.DATABASE,
            ) from None

    return wrapper


def finite(value: float | None, option: str) -> float | None:
    """`FloatRange` lets `nan` through (no comparison with it is true) and `inf` means nothing
    as a rate: both are usage errors."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a finite number", param_hint=option)
    return value


ROW_ID = click.IntRange(1, 2**63 - 1)
"""An inbox or outbox id as typed: a BIGINT's range, so a mistyped one is a usage error rather
than an OverflowError from the database driver."""
RELATIVE = re.compile(r"([0-9]+)([smhdw])")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_moment(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    """Option callback: an ISO 8601 time (UTC unless it says otherwise) or an age: 30m, 2h, 7d."""
    if value is None:
        return None
    ctx.meta[f"raw_{param.name}"] = value  # as typed: a replay's fingerprint uses this
    text = value.strip()
    if match := RELATIVE.fullmatch(text):
        amount, unit = match.groups()
        try:
            return datetime.now(UTC) - timedelta(**{UNITS[unit]: int(amount)})
        except OverflowError:
            raise click.BadParameter(f"{text!r} is further back than a date can go") from None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither ISO 8601 nor an age like 30m, 2h, 7d"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def stdin_is_interactive() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def event_filter_options(command: Callable[P, T]) -> Callable[P, T]:
    """--source/--status/--since/--until, shared by `events list` and `replay`."""
    options = [
        click.option("--source", help="Only events from this source."),
        click.option(
            "--status",
            type=click.Choice(STATUSES),
            help="Only events in this status (e.g. failed).",
        ),
        click.option(
            "--since",
            metavar="TIME",
            callback=parse_moment,
            help="Received at or after (ISO 8601 or an age: 30m, 2h, 7d).",
        ),
        click.option(
            "--until",
            metavar="TIME",
            callback=parse_moment,
            help="Received before (ISO 8601 or an age).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command
