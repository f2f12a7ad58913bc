"""`ingest send`: sign a sample (or your own payload) exactly as the vendor would, and post it."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
import httpx

from ingest.cli.common import CommandError, ExitCode
from ingest.cli.serve import config_or_exit
from ingest.errors import ConfigError
from ingest.settings import load_settings
from ingest.simulation import SIMULATORS
from ingest.simulation.base import SigningContext


def server_url(value: str) -> str:
    """An http(s) URL with a host, checked before anything is signed: httpx raises on a
    malformed one (`http://[::1`) only when the request is made."""
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise click.BadParameter(f"{value!r} is not a URL ({exc})", param_hint="--url") from None
    if url.scheme not in {"http", "https"} or not url.host:
        raise click.BadParameter(f"{value!r} is not an http(s) URL with a host", param_hint="--url")
    return value


@click.command()
@click.argument("source")
@click.option("--type", "event_type", help="Vendor event type of the sample, e.g. charge.refunded.")
@click.option(
    "--file",
    "payload_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Send this payload instead of a sample (signed as is).",
)
@click.option(
    "--url",
    default="http://127.0.0.1:8000",
    show_default=True,
    callback=lambda ctx, param, value: server_url(value),
    help="Where ingest serves.",
)
@click.option(
    "--secret-index",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="Which of the source's configured secrets signs (to try rotation).",
)
@click.option(
    "--key-dir",
    default=Path(".ingest-keys"),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Private keys made by `ingest keys generate`, for vendors that sign asymmetrically.",
)
def send(
    source: str,
    event_type: str | None,
    payload_file: Path | None,
    url: str,
    secret_index: int,
    key_dir: Path,
) -> None:
    """Post a signed event to SOURCE's endpoint and print the response.

    The source's vendor and secret come from the sources file, so this signs exactly what a
    verified delivery looks like. Exits 0 on a 2xx, 1 on any other status, 5 if unreachable.

    \b
    Examples:
      ingest send stripe
      ingest send stripe --type charge.refunded
      ingest send github --type pull_request
      ingest send clerk --file user_created.json
    """
    settings = load_settings()
    config = config_or_exit(settings)
    configured = config.sources.get(source)
    if configured is None:
        known = ", ".join(sorted(config.sources)) or "none"
        raise CommandError(
            f"no source {source!r} in {settings.sources_file} (known: {known})", ExitCode.USAGE
        )
    simulation = SIMULATORS[configured.vendor]
    if configured.secrets and secret_index >= len(configured.secrets):
        raise CommandError(
            f"source {source!r} has {len(configured.secrets)} secrets", ExitCode.USAGE
        )
    if payload_file is not None:
        body = payload_file.read_bytes()
    else:
        sample_type = event_type
        if event_type is not None and event_type not in simulation.sample_types:
            click.echo(
                f"note: no built-in sample for {event_type!r}; using the generic shape "
                f"(samples: {', '.join(simulation.sample_types)})",
                err=True,
            )
            sample_type = None  # the vendor's default sample; --type still goes to sign()
        body = simulation.sample(sample_type)
    endpoint = f"{url.rstrip('/')}/webhooks/{source}"
    context = SigningContext(
        source=configured,
        url=endpoint,
        secret=configured.secrets[secret_index] if configured.secrets else None,
        key_dir=key_dir,
    )
    try:
        signed = simulation.sign(body, context, time.time(), event_type)
    except ConfigError as exc:  # e.g. no local key yet: `ingest keys generate VENDOR`
        raise CommandError(str(exc), ExitCode.CONFIG) from None
    try:
        response = httpx.request(
            signed.method, signed.url, content=signed.body, headers=signed.headers, timeout=30
        )
    except httpx.HTTPError as exc:
        raise CommandError(
            f"cannot reach {signed.url}: {type(exc).__name__}", ExitCode.UNREACHABLE
        ) from None
    try:
        shown = json.dumps(response.json())
    except ValueError:
        shown = response.text[:500]
    click.echo(f"{signed.method} {signed.url} → {response.status_code} {shown}")
    if not response.is_success:
        sys.exit(ExitCode.FAILED)
