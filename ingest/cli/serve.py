"""`ingest serve`, `ingest relay`, `ingest migrate`: the long-running processes and the schema."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import click
import uvicorn

from ingest import migrate as migrations
from ingest.cli.common import CommandError, ExitCode, run_async, settings_for_cli
from ingest.errors import ConfigError
from ingest.logs import get_logger
from ingest.runtime import Database, load_config
from ingest.server import uvicorn_options
from ingest.settings import Settings
from ingest.sources import SourcesConfig

log = get_logger("ingest.cli")


def config_or_exit(settings: Settings) -> SourcesConfig:
    try:
        return load_config(settings)
    except ConfigError as exc:
        raise CommandError(str(exc), ExitCode.CONFIG) from None


@run_async
async def check_database(settings: Settings) -> None:
    """Fail before binding the port: a clear message beats a server that answers 503 forever."""
    database = await Database.open(settings)
    await database.close()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes; one relay among them publishes at a time (a database lease).",
)
@click.option(
    "--relay/--no-relay",
    default=True,
    show_default=True,
    help="Also publish the outbox from this process (--no-relay: run `ingest relay` apart).",
)
def serve(host: str, port: int, workers: int, relay: bool) -> None:
    """Serve POST /webhooks/{source}, GET /healthz, /readyz and /metrics."""
    settings = settings_for_cli()
    config = config_or_exit(settings)
    check_database(settings)
    if workers == 1:
        from ingest.app import create_app  # noqa: PLC0415 - keeps `ingest --help` fast

        app = create_app(settings, config, run_relay=relay)
        uvicorn.run(app, host=host, port=port, **uvicorn_options(settings))
        return
    # Worker processes build their own app from the environment; pass the relay choice there.
    os.environ["INGEST_RUN_RELAY"] = "1" if relay else "0"
    with multiprocess_metrics():
        uvicorn.run(
            "ingest.app:create_app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            **uvicorn_options(settings),
        )


@contextlib.contextmanager
def multiprocess_metrics() -> Iterator[None]:
    """Workers count into files in one directory, so any of them can answer /metrics for all.

    prometheus-client picks its storage when first imported, so the variable is set here, before
    the workers start. A directory the user chose is kept; ours is removed afterwards."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):  # counts of an earlier run would be added in
            stale.unlink()
        yield
        return
    with tempfile.TemporaryDirectory(prefix="ingest-metrics-") as temporary:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = temporary
        try:
            yield
        finally:
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]


@click.command("relay")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface for --port.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Also serve GET /healthz, /readyz and /metrics on this port (for probes and scrapes).",
)
def relay_command(host: str, port: int | None) -> None:
    """Publish the outbox without serving webhooks (pairs with serve --no-relay).

    Several relays share the outbox by shard (INGEST_RELAY_SHARDS); start as many as you like,
    and each takes its fair share. A relay that dies has its shards taken over within
    INGEST_RELAY_LEASE_SECONDS plus a third of it."""
    settings = settings_for_cli()
    config = config_or_exit(settings)
    check_database(settings)
    if port is not None:
        from ingest.app import create_relay_app  # noqa: PLC0415 - keeps `ingest --help` fast

        uvicorn.run(
            create_relay_app(settings, config), host=host, port=port, **uvicorn_options(settings)
        )
        return
    _run_relay(settings, config)


@run_async
async def _run_relay(settings: Settings, config: SourcesConfig) -> None:
    from ingest.background import Background  # noqa: PLC0415
    from ingest.handlers import HANDLERS  # noqa: PLC0415 - keeps `ingest --help` fast

    database = await Database.open(settings)
    background = Background(settings, database, config, HANDLERS)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    log.info("relay.process_started", sink="kafka" if settings.kafka_enabled else "file")
    background.start()
    try:
        await stop.wait()
    finally:
        await background.stop()
        await database.close()
        log.info("relay.process_stopped", published=background.relay.published)


@click.command()
@click.option("--revision", default="head", show_default=True, help="Alembic revision to reach.")
def migrate(revision: str) -> None:
    """Bring the database schema up to date (Alembic upgrade)."""
    settings = settings_for_cli()
    _migrate(settings, revision)


@run_async
async def _migrate(settings: Settings, revision: str) -> None:
    database = await Database.open(settings, check_schema=False)
    try:
        before = await migrations.current_revision(database.engine)
        await migrations.upgrade(database.engine, revision)
        after = await migrations.current_revision(database.engine)
    finally:
        await database.close()
    if before == after:
        click.echo(f"database already at {after}")
    else:
        click.echo(f"migrated database from {before or 'empty'} to {after}")
