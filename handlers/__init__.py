"""One module per vendor behind the `VendorHandler` protocol; `HANDLERS` is the catalog."""

from collections.abc import Mapping
from dataclasses import replace

from handlers.base import VendorHandler
from handlers.github import GitHubHandler
from handlers.standard_webhooks import StandardWebhooksHandler
from handlers.stripe import StripeHandler
from ingest.sources import SourcesConfig

HANDLERS: Mapping[str, VendorHandler] = {
    handler.vendor: handler
    for handler in (
        StripeHandler(),
        GitHubHandler(),
        StandardWebhooksHandler(),
    )
}
VENDORS = frozenset(HANDLERS)


def check_sources(config: SourcesConfig) -> SourcesConfig:
    """Each source checked by its vendor's handler, options parsed into the vendor's model."""
    sources = {
        name: HANDLERS[source.vendor].check_config(source)
        for name, source in config.sources.items()
    }
    return replace(config, sources=sources)


__all__ = ["HANDLERS", "VENDORS", "VendorHandler", "check_sources"]
