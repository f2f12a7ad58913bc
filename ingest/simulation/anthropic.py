"""What `anthropic` sends, simulated for `ingest send`, the benchmarks and the tests: sample bodies
with fresh ids, signed as the vendor signs them. The service never imports this to receive."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import ClassVar

from ingest.handlers.anthropic import AnthropicHandler
from ingest.simulation.standard_webhooks import StandardWebhooksSimulator


class AnthropicSimulator(StandardWebhooksSimulator):
    vendor: ClassVar[str] = AnthropicHandler.vendor
    sample_types: ClassVar[tuple[str, ...]] = (
        "session.status_idled",
        "session.status_terminated",
        "session.outcome_evaluation_ended",
        "session.status_run_started",
        "vault_credential.refresh_failed",
    )

    def sample(self, event_type: str | None) -> bytes:
        """The documented envelope (SDK `BetaWebhookEvent`), with fresh ids."""
        event_type = event_type or self.sample_types[0]
        resource = "vcrd" if event_type.startswith("vault_credential.") else "sesn"
        document = {
            "type": "event",
            # The body id's prefix is not documented beyond "unique event identifier".
            "id": f"whe_{secrets.token_hex(12)}",
            "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "data": {
                "type": event_type,
                "id": f"{resource}_{secrets.token_hex(12)}",
                "organization_id": "8a3d2f1e-5b6c-4d7e-8f90-a1b2c3d4e5f6",
                "workspace_id": "c7b0e4d9-1a2b-4c3d-9e8f-7a6b5c4d3e2f",
            },
        }
        return json.dumps(document).encode()
