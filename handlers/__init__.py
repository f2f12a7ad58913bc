"""One module per vendor behind the `VendorHandler` protocol; `HANDLERS` is the catalog.

Every module in this package that defines a `VendorHandler` subclass with a `vendor` is picked up:
adding a vendor is adding a module (see docs/adding-a-vendor.md).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from dataclasses import replace

from ingest.handlers.base import VendorHandler
from ingest.sources import SourcesConfig

NOT_VENDORS = frozenset({"base"})


def _discover() -> dict[str, VendorHandler]:
    found: dict[str, VendorHandler] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        # Packages (`schemes`) and private modules hold what vendors share, not vendors.
        if module_info.ispkg or module_info.name in NOT_VENDORS or module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, VendorHandler)
                and value is not VendorHandler
                and value.__module__ == module.__name__
                and getattr(value, "vendor", None)
            ):
                handler: VendorHandler = value()
                if handler.vendor in found:
                    raise RuntimeError(f"two handlers claim vendor {handler.vendor!r}")
                found[handler.vendor] = handler
    return found


HANDLERS: Mapping[str, VendorHandler] = _discover()
VENDORS = frozenset(HANDLERS)


def check_sources(config: SourcesConfig) -> SourcesConfig:
    """Each source checked by its vendor's handler, options parsed into the vendor's model."""
    sources = {
        name: HANDLERS[source.vendor].check_config(source)
        for name, source in config.sources.items()
    }
    return replace(config, sources=sources)


__all__ = ["HANDLERS", "VENDORS", "VendorHandler", "check_sources"]
