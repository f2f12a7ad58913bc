"""Simulators, one module per vendor module of `ingest.handlers`; `SIMULATORS` is the catalog,
keyed by vendor like `ingest.handlers.HANDLERS`, and every vendor has one (a test checks)."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from typing import Any

from ingest.handlers import HANDLERS
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


def _discover() -> dict[str, Simulator[Any]]:
    found: dict[str, Simulator[Any]] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.name == "base" or module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Simulator)
                and value.__module__ == module.__name__
                and getattr(value, "vendor", None)
            ):
                if value.vendor in found:
                    raise RuntimeError(f"two simulators claim vendor {value.vendor!r}")
                found[value.vendor] = value(HANDLERS[value.vendor])
    return found


SIMULATORS: Mapping[str, Simulator[Any]] = _discover()


def simulator(handler: Any) -> Simulator[Any]:
    """The simulator of a handler (an instance or its class), or of a vendor name."""
    vendor = handler if isinstance(handler, str) else handler.vendor
    return SIMULATORS[vendor]


__all__ = ["SIMULATORS", "SignedRequest", "SigningContext", "Simulator", "simulator"]
