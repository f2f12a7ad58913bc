"""`ingest vendors` and `ingest keys generate`: the catalog, and local keys to try it offline."""

from __future__ import annotations

import json
from pathlib import Path

import click

from handlers import HANDLERS
from ingest.cli.common import CommandError, ExitCode
from ingest.errors import ConfigError


def _describe(vendor: str) -> dict[str, object]:
    handler = HANDLERS[vendor]
    return {
        "vendor": vendor,
        "scheme": handler.summary,
        "headers": list(handler.signature_headers),
        "needs_secrets": handler.requires_secrets,
        "config_keys": sorted(handler.options_model.model_fields),
        "tolerance_seconds": handler.default_tolerance_seconds,
        "mapped_types": dict(handler.mapped_types),
        "sample_types": list(handler.sample_types),
    }


@click.command()
@click.argument("vendor", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def vendors(vendor: str | None, as_json: bool) -> None:
    """List the vendor catalog, or describe one VENDOR in full."""
    if vendor is not None and vendor not in HANDLERS:
        raise CommandError(f"unknown vendor {vendor!r}; see `ingest vendors`", ExitCode.USAGE)
    names = [vendor] if vendor else sorted(HANDLERS)
    described = [_describe(name) for name in names]
    if as_json:
        click.echo(json.dumps(described if vendor is None else described[0], indent=2))
        return
    if vendor is None:
        width = max(len(name) for name in names)
        for entry in described:
            click.echo(f"{entry['vendor']:<{width}}  {entry['scheme']}")
        click.echo("\n`ingest vendors VENDOR` for headers, config keys and mapped types.", err=True)
        return
    entry = described[0]
    click.echo(f"{entry['vendor']}: {entry['scheme']}")
    click.echo(f"  headers:      {', '.join(entry['headers']) or '-'}")  # type: ignore[arg-type]
    click.echo(f"  secrets:      {'required' if entry['needs_secrets'] else 'not used'}")
    click.echo(f"  config keys:  {', '.join(entry['config_keys']) or '-'}")  # type: ignore[arg-type]
    tolerance = entry["tolerance_seconds"]
    click.echo(f"  tolerance:    {f'{tolerance} s' if tolerance else 'none (no signed time)'}")
    click.echo("  mapped types:")
    for vendor_type, event_type in entry["mapped_types"].items():  # type: ignore[attr-defined]
        click.echo(f"    {vendor_type} → {event_type}")
    click.echo("    (every other type → <vendor>.<type>, payload unchanged)")


@click.group()
def keys() -> None:
    """Local keys for vendors that sign asymmetrically (try them offline)."""


@keys.command("generate")
@click.argument("vendor")
@click.option(
    "--dir",
    "key_dir",
    default=Path(".ingest-keys"),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write the key pair (ingest send reads it from here).",
)
def generate(vendor: str, key_dir: Path) -> None:
    """Make a key pair or certificate for VENDOR and print the sources.yaml lines trusting it."""
    handler = HANDLERS.get(vendor)
    if handler is None:
        raise CommandError(f"unknown vendor {vendor!r}; see `ingest vendors`", ExitCode.USAGE)
    try:
        snippet = handler.generate_keys(key_dir)
    except ConfigError as exc:
        raise CommandError(str(exc), ExitCode.USAGE) from None
    click.echo(snippet)
