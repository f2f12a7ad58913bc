"""One module per vendor behind the `VendorHandler` protocol; `HANDLERS` is the catalog."""

from collections.abc import Mapping

from handlers.base import VendorHandler
from handlers.github import GitHubHandler
from handlers.standard_webhooks import StandardWebhooksHandler
from handlers.stripe import StripeHandler

HANDLERS: Mapping[str, VendorHandler] = {
    handler.vendor: handler
    for handler in (StripeHandler(), GitHubHandler(), StandardWebhooksHandler())
}
VENDORS = frozenset(HANDLERS)

__all__ = ["HANDLERS", "VENDORS", "VendorHandler"]
