"""The tests mirror the code: each module has its test module at the same place in `tests/`.

`ingest/<package>/<name>.py` is tested in `tests/ingest/<package>/test_<name>.py`; the vendor
layer (`handlers/`, imported as `ingest.handlers`) in `tests/handlers/`. A reader looking for a
module's tests finds them by name, and a module added without tests fails here. Scenario tests
(a vendor's whole pipeline, a crash, an outage) live beside them under names of their own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"

COVERED_ELSEWHERE = {
    "ingest/__init__.py": "tests/ingest/cli/test_lazy.py",  # `__version__`: `ingest --version`
    "ingest/cli/__init__.py": "tests/ingest/cli/test_lazy.py",  # the lazily loaded group
    "ingest/edge/__init__.py": "tests/ingest/test_app.py",  # exports; their order in the app
    "ingest/relay/__init__.py": "tests/ingest/relay/test_relay.py",  # exports only
    "ingest/simulation/__init__.py": "tests/ingest/simulation/test_catalog.py",  # the registry
    "handlers/__init__.py": "tests/handlers/test_base.py",  # discovery: the registry's checks
    "handlers/schemes/__init__.py": "tests/handlers/schemes/test_hmac_signature.py",  # docstring
}
"""Modules without a same-named test module, each with the test module that covers it."""

SIMULATORS_SUITE = "tests/ingest/simulation/test_catalog.py"
"""Every vendor's simulator (`ingest/simulation/<vendor>.py`) is held to one registry-wide suite:
each sample type it makes, signed, verifies with that vendor's handler. The per-vendor handler
tests (`tests/handlers/test_<vendor>.py`) use the same simulators."""


def _modules() -> list[str]:
    found: list[str] = []
    for path in sorted((ROOT / "ingest").rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[1] in {"handlers", "schemas", "migrations"}:
            continue  # symlinks to the repository's top-level packages, listed below
        found.append(str(relative))
    for package in ("handlers",):
        found.extend(str(p.relative_to(ROOT)) for p in sorted((ROOT / package).rglob("*.py")))
    return found


def _test_module(module: str) -> Path:
    relative = Path(module)
    name = "init" if relative.name == "__init__.py" else relative.stem.strip("_")
    return TESTS / relative.parent / f"test_{name}.py"


def _is_vendor_simulator(module: str) -> bool:
    path = Path(module)
    kit = {"base", "keys", "credentials", "templates", "_extraction", "__init__"}
    return path.parent == Path("ingest/simulation") and path.stem not in kit


@pytest.mark.parametrize("module", _modules())
def test_each_module_has_its_test_module(module: str) -> None:
    if module in COVERED_ELSEWHERE:
        expected = ROOT / COVERED_ELSEWHERE[module]
    elif _is_vendor_simulator(module):
        expected = ROOT / SIMULATORS_SUITE
    else:
        expected = _test_module(module)
    assert expected.is_file(), f"{module} has no {expected.relative_to(ROOT)}"


def test_the_exceptions_name_modules_that_exist() -> None:
    for module in COVERED_ELSEWHERE:
        assert (ROOT / module).is_file(), module
