"""`ingest vendors` and `ingest keys generate`: the catalog, and local keys to try it offline."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import click

from ingest.cli.common import CommandError, ExitCode
from ingest.errors import ConfigError
from ingest.handlers import HANDLERS
from ingest.simulation import simulator


@dataclass(frozen=True)
class VendorEntry:
    vendor: str
    scheme: str
    headers: list[str]
    secrets: str
    config_keys: list[str]
    tolerance_seconds: int | None
    mapped_types: dict[str, str]
    sample_types: list[str]

    @classmethod
    def of(cls, vendor: str) -> VendorEntry:
        handler = HANDLERS[vendor]
        return cls(
            vendor=vendor,
            scheme=handler.summary,
            headers=list(handler.signature_headers),
            secrets="required"
            if handler.requires_secrets
            else (getattr(handler, "secrets_usage", None) or "not used"),
            config_keys=sorted(handler.options_model.model_fields),
            tolerance_seconds=handler.default_tolerance_seconds,
            mapped_types=dict(handler.mapped_types),
            sample_types=list(simulator(handler).sample_types),
        )


def markdown_table(entries: list[VendorEntry]) -> str:
    """The catalog table in docs/vendors.md (a test keeps it in step with the code)."""
    lines = [
        "| vendor | authenticity | `secrets` | other config keys | tolerance | mapped types |",
        "|---|---|---|---|---|---|",
    ]
    for entry in entries:
        keys = ", ".join(f"`{key}`" for key in entry.config_keys) or "—"
        tolerance = f"{entry.tolerance_seconds} s" if entry.tolerance_seconds else "—"
        link = f"[`{entry.vendor}`](vendors/{entry.vendor}.md)"
        lines.append(
            f"| {link} | {entry.scheme} | {entry.secrets} | {keys} | {tolerance} "
            f"| {len(entry.mapped_types)} |"
        )
    return "\n".join(lines) + "\n"


@click.command()
@click.argument("vendor", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--markdown", is_flag=True, help="The catalog as the table in docs/vendors.md.")
@click.option(
    "--update-docs",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Rewrite the catalog table between the markers in this file (docs/vendors.md).",
)
def vendors(vendor: str | None, as_json: bool, markdown: bool, update_docs: Path | None) -> None:
    """List the vendor catalog, or describe one VENDOR in full."""
    if vendor is not None and vendor not in HANDLERS:
        raise CommandError(f"unknown vendor {vendor!r}; see `ingest vendors`", ExitCode.USAGE)
    entries = [VendorEntry.of(name) for name in ([vendor] if vendor else sorted(HANDLERS))]
    if as_json:
        documents = [asdict(entry) for entry in entries]
        click.echo(json.dumps(documents[0] if vendor else documents, indent=2))
        return
    if markdown:
        click.echo(markdown_table(entries), nl=False)
        return
    if update_docs is not None:
        text = update_docs.read_text()
        start, end = "<!-- catalog:start -->\n", "<!-- catalog:end -->"
        if start not in text or end not in text:
            raise CommandError(f"{update_docs} has no catalog markers", ExitCode.USAGE)
        head, rest = text.split(start, 1)
        tail = rest.split(end, 1)[1]
        update_docs.write_text(head + start + markdown_table(entries) + end + tail)
        click.echo(f"updated the catalog in {update_docs}")
        return
    if vendor is None:
        width = max(len(entry.vendor) for entry in entries)
        for entry in entries:
            click.echo(f"{entry.vendor:<{width}}  {entry.scheme}")
        click.echo("\n`ingest vendors VENDOR` for headers, config keys and mapped types.", err=True)
        return
    [entry] = entries
    tolerance = f"{entry.tolerance_seconds} s" if entry.tolerance_seconds else "none"
    click.echo(f"{entry.vendor}: {entry.scheme}")
    click.echo(f"  headers:      {', '.join(entry.headers) or '-'}")
    click.echo(f"  secrets:      {entry.secrets}")
    click.echo(f"  config keys:  {', '.join(entry.config_keys) or '-'}")
    click.echo(f"  tolerance:    {tolerance}")
    click.echo(f"  samples:      {', '.join(entry.sample_types) or '-'}")
    click.echo("  mapped types:")
    for vendor_type, event_type in entry.mapped_types.items():
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
        snippet = simulator(handler).generate_keys(key_dir)
    except ConfigError as exc:
        raise CommandError(str(exc), ExitCode.USAGE) from None
    click.echo(snippet)
