"""`python -m ingest`: the same CLI as the `ingest` script, under the same name.

Containers and systemd units often run the module rather than the console script; its usage and
exit codes must be the script's.
"""

from __future__ import annotations

import subprocess
import sys


def test_the_module_runs_the_cli_under_its_own_name() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ingest", "--help"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: ingest ")
    assert "serve" in result.stdout


def test_an_unknown_command_exits_2_as_usage_errors_do() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ingest", "no-such-command"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "No such command" in result.stderr
