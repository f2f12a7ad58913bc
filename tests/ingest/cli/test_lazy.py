"""The command group as a whole (`ingest.cli.lazy.LazyGroup`, assembled in `ingest.cli`): the
top-level help lists every command from a table, without importing any command's module, and a
command's module is imported only when that command is asked for.

Why: `ingest --help` once paid 1.5 s of imports; the table must also stay equal to what each
command says of itself, or the help would describe commands that changed."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from ingest import __version__
from ingest.cli import main
from ingest.cli.common import ExitCode
from ingest.cli.lazy import LazyCommand, LazyGroup, load
from tests import support


def probe_modules(arguments: list[str], modules: list[str]) -> dict[str, bool]:
    """Run `ingest <arguments>` in a fresh interpreter; which of `modules` it imported."""
    probe = (
        "import sys\n"
        "from ingest.cli import main\n"
        "try:\n"
        f"    main({arguments!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "import json\n"
        f"print(json.dumps({{m: m in sys.modules for m in {modules!r}}}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    loaded: dict[str, bool] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


# -- moved from test_commands.py -------------------------------------------------------------


def test_help_lists_every_command() -> None:
    result = support.run_cli({}, support.ROOT, "--help")
    assert result.returncode == 0
    for command in ("serve", "relay", "migrate", "events", "outbox", "purge", "replay", "send"):
        assert f"  {command} " in result.stdout
    assert "Exit codes" in result.stdout


def test_help_imports_nothing_heavy() -> None:
    """`ingest --help` must not pay for SQLAlchemy, Alembic, aiokafka or the vendor SDKs."""
    probe = (
        "import sys\n"
        "from ingest.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = {'sqlalchemy', 'alembic', 'aiokafka', 'stripe', 'ingest.handlers', 'pydantic'}\n"
        "loaded = {m for m in sys.modules for h in heavy if m == h or m.startswith(h + '.')}\n"
        "print(sorted({h for h in heavy for m in loaded if m == h or m.startswith(h + '.')}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_the_help_table_says_what_each_command_says() -> None:
    from ingest.cli import COMMANDS  # noqa: PLC0415
    from ingest.cli.lazy import load  # noqa: PLC0415

    for name, command in COMMANDS.items():
        loaded = load(command)
        assert loaded.get_short_help_str(limit=200) == command.summary, name


# -- new ------------------------------------------------------------------------------------


def test_the_help_lists_the_commands_in_alphabetical_order_each_with_its_summary() -> None:
    from ingest.cli import COMMANDS  # noqa: PLC0415

    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    section = result.stdout.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        if match := re.fullmatch(r"  (\S+)\s+(.*)", line):  # a new row: the name, its summary
            name = match.group(1)
            rows[name] = match.group(2)
        else:  # a summary wrapped onto the next line (click breaks after a hyphen, too)
            glue = "" if rows[name].endswith("-") else " "
            rows[name] += glue + line.strip()
    assert list(rows) == sorted(COMMANDS)
    assert rows == {name: command.summary for name, command in COMMANDS.items()}


def test_the_help_documents_every_exit_code_the_commands_use() -> None:
    result = CliRunner().invoke(main, ["--help"])
    epilog = result.stdout.split("Exit codes:", 1)[1]
    documented = {int(code) for code in re.findall(r"^\s+(\d+)\s", epilog, re.M)}
    assert documented == {int(code) for code in ExitCode}


def test_running_a_command_imports_that_commands_module_and_no_other() -> None:
    modules = ["ingest.cli.outbox", "ingest.cli.replay", "ingest.cli.send", "ingest.cli.sns"]
    loaded = probe_modules(["outbox", "--help"], modules)
    assert loaded == {
        "ingest.cli.outbox": True,
        "ingest.cli.replay": False,
        "ingest.cli.send": False,
        "ingest.cli.sns": False,
    }


def test_an_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["frobnicate"])
    assert result.exit_code == ExitCode.USAGE
    assert "No such command 'frobnicate'" in result.stderr


def test_version_prints_the_package_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"ingest, version {__version__}"


def test_loading_a_target_that_is_not_a_click_command_is_refused() -> None:
    with pytest.raises(TypeError, match=r"ingest\.cli\.common:ExitCode is not a click command"):
        load(LazyCommand("ingest.cli.common:ExitCode", "not a command"))


def test_a_group_finds_its_own_commands_beside_the_lazy_ones() -> None:
    group = LazyGroup(
        "tool", lazy={"schemas": LazyCommand("ingest.cli.schemas:schemas_command", "Schemas.")}
    )

    @group.command("eager")
    def eager() -> None:
        """Defined on the group itself."""

    ctx = click.Context(group)
    assert group.list_commands(ctx) == ["eager", "schemas"]
    assert group.get_command(ctx, "eager") is eager
    loaded = group.get_command(ctx, "schemas")
    assert loaded is not None
    assert loaded.name == "schemas"
    assert group.get_command(ctx, "missing") is None


def test_a_command_added_directly_is_listed_beside_the_lazy_ones() -> None:
    """A plugin or a later command may be added with `group.add_command`: the help names it."""
    group = LazyGroup(name="tool", lazy={"zeta": LazyCommand("ingest.cli:main", "The lazy one.")})

    @click.command(help="Added directly.\n\nMore text the summary leaves out.")
    def alpha() -> None:
        pass

    @click.command(hidden=True)
    def secret() -> None:
        pass

    group.add_command(alpha)
    group.add_command(secret)
    result = CliRunner().invoke(group, ["--help"])
    assert result.exit_code == 0
    commands = result.output.split("Commands:")[1]
    assert re.search(r"alpha\s+Added directly\.", commands)
    assert re.search(r"zeta\s+The lazy one\.", commands)
    assert commands.index("alpha") < commands.index("zeta")
    assert "secret" not in commands
