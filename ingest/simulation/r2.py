"""What `r2` sends, simulated for `ingest send`, the benchmarks and the tests: the bodies are data
(`samples/r2.json`), signed here as the vendor signs them. The service never imports this."""

from __future__ import annotations

from typing import ClassVar

from ingest.handlers.r2 import R2Handler
from ingest.simulation.standard_webhooks import StandardWebhooksSimulator


class R2Simulator(StandardWebhooksSimulator):
    vendor: ClassVar[str] = R2Handler.vendor
