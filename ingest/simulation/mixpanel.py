"""What `mixpanel` sends, simulated for `ingest send`, the benchmarks and the tests: sample bodies
with fresh ids, signed as the vendor signs them. The service never imports this to receive."""

from __future__ import annotations

import json
import secrets
import uuid
from typing import ClassVar

from ingest.handlers.mixpanel import MixpanelHandler
from ingest.handlers.schemes.credentials import BasicCredentials
from ingest.simulation.base import SignedRequest, SigningContext, Simulator
from ingest.simulation.credentials import basic_authorization, first_basic_credential


class MixpanelSimulator(Simulator[MixpanelHandler]):
    vendor: ClassVar[str] = MixpanelHandler.vendor
    sample_types: ClassVar[tuple[str, ...]] = ("add_members", "remove_members", "members")

    def sample(self, event_type: str | None) -> bytes:
        """Mixpanel's documented webhook format, with a fresh sync session and members."""
        action = event_type or self.sample_types[0]
        members = [
            {
                "email": f"{name.lower()}@example.com",
                "mixpanel_distinct_id": str(uuid.uuid4()),
                "first_name": name,
                "last_name": "Example",
                "phone_number": "555-010-0100",
            }
            for name in ("Ada", "Grace")
        ]
        document = {
            "action": action,
            "parameters": {
                "mixpanel_project_id": "2195193",
                "mixpanel_cohort_name": "Power users",
                "mixpanel_cohort_id": "1417361",
                "mixpanel_cohort_description": "Used the product on 5 of the last 7 days",
                "mixpanel_session_id": secrets.token_hex(16),
                "page_info": {"total_pages": 1, "page_count": 1},
                "members": members,
            },
        }
        return json.dumps(document, indent=2).encode()

    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        headers = {"Content-Type": "application/json"}
        options = self.handler.options(context.source, BasicCredentials)
        credential = first_basic_credential(options.basic_auth)
        if credential is not None:  # without one the request goes unauthenticated (and is refused)
            headers["Authorization"] = basic_authorization(credential)
        return SignedRequest(headers=headers, body=body, url=context.url)
