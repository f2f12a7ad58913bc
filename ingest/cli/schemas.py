"""`ingest schemas export|check`: the JSON Schema files of the domain events."""

from __future__ import annotations

import sys

import click

from ingest import schema_export
from ingest.cli.common import ExitCode


@click.group("schemas")
def schemas_command() -> None:
    """JSON Schema files of the domain events (schemas/json/)."""


@schemas_command.command("export")
def export() -> None:
    """Regenerate schemas/json/ from the pydantic models."""
    changed = schema_export.write()
    for relative in changed:  # written, or removed when no model makes that file any more
        done = "wrote" if (schema_export.OUTPUT / relative).exists() else "removed"
        click.echo(f"{done} {relative}")
    click.echo(f"{len(changed)} files changed in {schema_export.OUTPUT}")


@schemas_command.command("check")
def check() -> None:
    """Exit 1 if schemas/json/ is out of date with the models (CI runs this)."""
    stale = schema_export.drift()
    if stale:
        for relative in stale:
            click.echo(f"out of date: {relative}", err=True)
        click.echo("run `ingest schemas export` and commit the result", err=True)
        sys.exit(ExitCode.FAILED)
    click.echo("schemas/json is up to date")
