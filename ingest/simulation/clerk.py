"""What `clerk` sends, simulated for `ingest send`, the benchmarks and the tests: the bodies are
data (`samples/clerk.json`), signed here as the vendor signs them. The service never imports
this."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from typing_extensions import override

from ingest.errors import ConfigError
from ingest.handlers.clerk import ClerkHandler
from ingest.simulation.base import SignedRequest, SigningContext
from ingest.simulation.standard_webhooks import StandardWebhooksSimulator


class ClerkSimulator(StandardWebhooksSimulator):
    vendor: ClassVar[str] = ClerkHandler.vendor

    @override
    def generate_keys(self, key_dir: Path) -> str:
        raise ConfigError("vendor clerk signs with a shared secret (whsec_…); there are no keys")

    @override
    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        """Clerk sends Svix's header names; the signature is the Standard Webhooks one."""
        signed = super().sign(body, context, now, event_type)
        headers = {
            name.replace("webhook-", "svix-", 1) if name.startswith("webhook-") else name: value
            for name, value in signed.headers.items()
        }
        return SignedRequest(headers=headers, body=signed.body, url=signed.url)
