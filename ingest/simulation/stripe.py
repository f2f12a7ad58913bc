"""What `stripe` sends, simulated for `ingest send`, the benchmarks and the tests: the bodies are
data (`samples/stripe.json`), signed here as the vendor signs them. The service never imports
this."""

from __future__ import annotations

from typing import ClassVar

import stripe
from typing_extensions import override

from ingest.handlers.stripe import StripeHandler
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


class StripeSimulator(Simulator[StripeHandler]):
    vendor: ClassVar[str] = StripeHandler.vendor

    @override
    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        header = stripe.WebhookSignature.generate_signature_header(
            body.decode("utf-8"), context.secret or "", timestamp=int(now)
        )
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": header,
        }
        return SignedRequest(headers=headers, body=body, url=context.url)
