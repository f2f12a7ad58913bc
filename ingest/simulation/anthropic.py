"""What `anthropic` sends, simulated for `ingest send`, the benchmarks and the tests: the bodies are
data (`samples/anthropic.json`), signed here as the vendor signs them. The service never imports
this."""

from __future__ import annotations

from typing import ClassVar

from ingest.handlers.anthropic import AnthropicHandler
from ingest.simulation.standard_webhooks import StandardWebhooksSimulator


class AnthropicSimulator(StandardWebhooksSimulator):
    vendor: ClassVar[str] = AnthropicHandler.vendor
