"""`ingest schemas check|export` (`ingest.cli.schemas`): `check` exits 0 when schemas/json/
matches the models and 1 naming every stale, missing or extra file (CI relies on this);
`export` rewrites them and says which files it wrote or removed.

The commands work on the package's own schemas/json/, so each test runs them on a copy of the
package (first on PYTHONPATH, in a subprocess): the checked-in files are never touched."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import ingest
from ingest.cli.common import ExitCode
from tests import support

PACKAGE = Path(ingest.__file__).parent


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    """A copy of the `ingest` package under tmp_path; returns its schemas/json/."""
    shutil.copytree(PACKAGE, tmp_path / "ingest", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / "ingest" / "schemas" / "json"


def schemas(copy: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    root = copy.parent.parent.parent
    return support.run_cli({"PYTHONPATH": str(root)}, root, "schemas", *arguments)


def test_check_passes_on_the_checked_in_files(package_copy: Path) -> None:
    result = schemas(package_copy, "check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "schemas/json is up to date"


def test_check_names_every_stale_missing_and_extra_file_and_exits_1(
    package_copy: Path,
) -> None:
    stale = next(
        path for path in sorted(package_copy.rglob("*.json")) if path.parent != package_copy
    )
    stale_name = stale.relative_to(package_copy).as_posix()
    stale.write_text("{}\n")
    (package_copy / "index.json").unlink()
    (package_copy / "retired" / "Gone.json").parent.mkdir()
    (package_copy / "retired" / "Gone.json").write_text("{}\n")

    result = schemas(package_copy, "check")
    assert result.returncode == ExitCode.FAILED
    assert result.stderr.splitlines() == [
        *sorted(f"out of date: {name}" for name in (stale_name, "index.json", "retired/Gone.json")),
        "run `ingest schemas export` and commit the result",
    ]
    assert "up to date" not in result.stdout


def test_export_rewrites_what_changed_and_then_check_passes(package_copy: Path) -> None:
    stale = next(
        path for path in sorted(package_copy.rglob("*.json")) if path.parent != package_copy
    )
    stale_name = stale.relative_to(package_copy).as_posix()
    original = stale.read_text()
    stale.write_text("{}\n")

    exported = schemas(package_copy, "export")
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.splitlines() == [
        f"wrote {stale_name}",
        f"1 files changed in {package_copy}",
    ]
    assert stale.read_text() == original
    assert schemas(package_copy, "check").returncode == 0


def test_export_says_removed_for_a_file_it_deletes(package_copy: Path) -> None:
    extra = package_copy / "retired" / "Gone.json"
    extra.parent.mkdir()
    extra.write_text("{}\n")

    exported = schemas(package_copy, "export")
    assert exported.returncode == 0, exported.stderr
    assert not extra.exists()
    assert exported.stdout.splitlines() == [
        "removed retired/Gone.json",
        f"1 files changed in {package_copy}",
    ]


def test_export_with_nothing_to_do_changes_no_file(package_copy: Path) -> None:
    exported = schemas(package_copy, "export")
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.splitlines() == [f"0 files changed in {package_copy}"]
