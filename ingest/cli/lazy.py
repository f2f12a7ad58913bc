"""A click group that imports a command's module only when that command runs.

`ingest --help` used to import SQLAlchemy, Alembic, the Stripe SDK and every vendor module
before printing a line (1.5 s of CPU). Here the top-level help comes from a table of names and
one-line summaries; a test keeps the table equal to the commands' own docstrings.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import click
from typing_extensions import override


@dataclass(frozen=True)
class LazyCommand:
    target: str
    """`module:attribute` of the click command."""
    summary: str


class LazyGroup(click.Group):
    def __init__(self, *args: Any, lazy: Mapping[str, LazyCommand], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    @override
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    @override
    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            return load(self.lazy[cmd_name])
        return super().get_command(ctx, cmd_name)

    @override
    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Commands added directly (`add_command`) are listed too, from their own short help:
        # they are imported already, so reading it costs nothing.
        summaries = {
            name: command.get_short_help_str(limit=formatter.width)
            for name, command in self.commands.items()
            if not command.hidden
        }
        summaries.update({name: lazy.summary for name, lazy in self.lazy.items()})
        rows = sorted(summaries.items())
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def load(command: LazyCommand) -> click.Command:
    module_name, attribute = command.target.split(":")
    loaded = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(loaded, click.Command):
        raise TypeError(f"{command.target} is not a click command")
    return loaded
