"""What `pip install` puts into a user's site-packages: one top-level package, `ingest`, with the
vendor handlers, schemas and migrations inside it (never bare `handlers`, `schemas`,
`migrations`, which would collide with a user's own packages), and the files they need."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests import support


def test_the_wheel_installs_one_top_level_package_with_everything_it_needs(
    tmp_path: Path,
) -> None:
    # From a copy: pip builds in the source tree, and would leave build/ in the checkout.
    source = tmp_path / "source"
    shutil.copytree(
        support.ROOT,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns(".*", "build", "*.egg-info", "__pycache__", "*.db*"),
    )
    wheels = tmp_path / "wheels"
    build = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels)]
    subprocess.run(
        [*build, str(source)],
        check=True,
        capture_output=True,
        timeout=280,
    )
    [wheel] = wheels.glob("ingest-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    assert top_level == {"ingest", wheel.name.removesuffix("-py3-none-any.whl") + ".dist-info"}
    for needed in (
        "ingest/py.typed",
        "ingest/handlers/py.typed",
        "ingest/schemas/py.typed",
        "ingest/handlers/stripe.py",
        "ingest/migrations/env.py",
        "ingest/migrations/script.py.mako",
        "ingest/schemas/json/payments/PaymentSucceeded.json",
    ):
        assert needed in names, needed
    # `ingest send` reads every vendor's samples from the installed package, not the checkout.
    samples = sorted(p.name for p in (support.ROOT / "ingest" / "simulation" / "samples").iterdir())
    assert len(samples) >= 24
    assert all(f"ingest/simulation/samples/{name}" in names for name in samples)
    migrations = sorted(p.name for p in (support.ROOT / "migrations" / "versions").glob("2*.py"))
    assert migrations
    assert all(f"ingest/migrations/versions/{m}" in names for m in migrations)
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not any(n.startswith(("tests/", "bench/", "ingest/tests/")) for n in names)


def test_nothing_imports_the_bare_repository_names() -> None:
    """Run from the repository root, where `handlers/` would also import as `handlers`: were
    any module to do so, a class would exist twice (`handlers.base.VendorHandler` is not
    `ingest.handlers.base.VendorHandler`) and the installed package would not find it at all."""
    probe = (
        "import sys\n"
        "import ingest.app, ingest.cli, ingest.migrate, ingest.schema_export\n"
        "from ingest.handlers import HANDLERS\n"
        "from ingest.cli import COMMANDS\n"
        "from ingest.cli.lazy import load\n"
        "for command in COMMANDS.values():\n"
        "    load(command)\n"
        "bare = {'handlers', 'schemas', 'migrations'}\n"
        "print(sorted({m for m in sys.modules if m.split('.')[0] in bare}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=support.ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
