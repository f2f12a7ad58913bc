"""What `datadog` sends, simulated for `ingest send`, the benchmarks and the tests: sample bodies
with fresh ids, signed as the vendor signs them. The service never imports this to receive."""

from __future__ import annotations

import json
import secrets
import time
from typing import ClassVar

from ingest.handlers.datadog import DatadogHandler, DatadogOptions
from ingest.simulation.base import SignedRequest, SigningContext, Simulator
from ingest.simulation.credentials import basic_authorization, first_basic_credential


class DatadogSimulator(Simulator[DatadogHandler]):
    vendor: ClassVar[str] = DatadogHandler.vendor
    sample_types: ClassVar[tuple[str, ...]] = ("triggered", "warn", "recovered", "no_data")

    def sample(self, event_type: str | None) -> bytes:
        """The payload template in docs/vendors/datadog.md, filled as Datadog fills it."""
        transition = {
            "triggered": "Triggered",
            "re-triggered": "Re-Triggered",
            "warn": "Warn",
            "re-warn": "Re-Warn",
            "recovered": "Recovered",
            "no_data": "No Data",
        }.get(event_type or self.sample_types[0], event_type or "Triggered")
        event_id = str(secrets.randbelow(9 * 10**18) + 10**18)
        document = {
            "id": event_id,
            "title": f"[{transition}] Memory usage high on web-1",
            "alert_transition": transition,
            "alert_id": "1234",
            "alert_cycle_key": "9bd4ac313a4d1e8fae2482df7b77628",
            "alert_priority": "P2",
            "priority": "normal",
            "tags": "env:prod, monitor, role:computing-node",
            "link": f"https://app.datadoghq.com/event/jump_to?event_id={event_id}",
            "date": str(int(time.time() * 1000)),
            "body": "system.mem.pct_usable over host:web-1 was < 0.1 on average in the last 5m.",
            "event_type": "query_alert_monitor",
            "org": {"id": "123456", "name": "Example Org"},
        }
        return json.dumps(document, indent=2).encode()

    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        headers = {"Content-Type": "application/json"}
        options = self.handler.options(context.source, DatadogOptions)
        if options.tokens:
            headers[options.header] = options.tokens[0]
        elif (credential := first_basic_credential(options.basic_auth)) is not None:
            headers["Authorization"] = basic_authorization(credential)
        return SignedRequest(headers=headers, body=body, url=context.url)
