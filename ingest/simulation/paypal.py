"""What `paypal` sends, simulated for `ingest send`, the benchmarks and the tests: sample bodies
with fresh ids, signed as the vendor signs them. The service never imports this to receive."""

from __future__ import annotations

import base64
import json
import secrets
import string
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from ingest.handlers.paypal import (
    AUTH_ALGORITHM,
    LOCAL_CERT_NAME,
    LOCAL_CERT_URL,
    LOCAL_WEBHOOK_ID,
    PayPalHandler,
    PayPalOptions,
    signed_string,
)
from ingest.simulation import keys
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


def _paypal_id(length: int = 17) -> str:
    """PayPal's ids: upper-case letters and digits (`42311647XV020574X`)."""
    alphabet = string.ascii_uppercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _sample(event_type: str) -> dict[str, Any]:
    """Bodies shaped like the examples in PayPal's webhook docs, fresh ids each time."""
    now = datetime.now(UTC).replace(microsecond=0)
    stamp = now.isoformat().replace("+00:00", "Z")
    api = "https://api.sandbox.paypal.com"
    amount = {"currency_code": "USD", "value": "10.99"}
    capture_id, order_id = _paypal_id(), _paypal_id()
    resource: dict[str, Any]
    resource_type, summary = "capture", ""
    if event_type.startswith("PAYMENT.CAPTURE.") and event_type != "PAYMENT.CAPTURE.REFUNDED":
        completed = event_type == "PAYMENT.CAPTURE.COMPLETED"
        summary = f"Payment {'completed' if completed else 'denied'} for $ 10.99 USD"
        resource = {
            "id": capture_id,
            "amount": amount,
            "final_capture": True,
            "seller_protection": {
                "status": "ELIGIBLE",
                "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"],
            },
            "seller_receivable_breakdown": {
                "gross_amount": amount,
                "paypal_fee": {"currency_code": "USD", "value": "0.68"},
                "net_amount": {"currency_code": "USD", "value": "10.31"},
            },
            "custom_id": f"order-{secrets.token_hex(4)}",
            "status": "COMPLETED" if completed else "DECLINED",
            "supplementary_data": {"related_ids": {"order_id": order_id}},
            "create_time": stamp,
            "update_time": stamp,
            "links": [
                {
                    "href": f"{api}/v2/payments/captures/{capture_id}",
                    "rel": "self",
                    "method": "GET",
                },
                {
                    "href": f"{api}/v2/payments/captures/{capture_id}/refund",
                    "rel": "refund",
                    "method": "POST",
                },
                {"href": f"{api}/v2/checkout/orders/{order_id}", "rel": "up", "method": "GET"},
            ],
        }
    elif event_type == "PAYMENT.CAPTURE.REFUNDED":
        resource_type, summary = "refund", "A $ 10.99 USD capture payment was refunded"
        refund_id = _paypal_id()
        resource = {
            "id": refund_id,
            "amount": amount,
            "seller_payable_breakdown": {
                "gross_amount": amount,
                "paypal_fee": {"currency_code": "USD", "value": "0.00"},
                "net_amount": amount,
                "total_refunded_amount": amount,
            },
            "status": "COMPLETED",
            "create_time": stamp,
            "update_time": stamp,
            "links": [
                {"href": f"{api}/v2/payments/refunds/{refund_id}", "rel": "self", "method": "GET"},
                {"href": f"{api}/v2/payments/captures/{capture_id}", "rel": "up", "method": "GET"},
            ],
        }
    elif event_type == "CUSTOMER.DISPUTE.CREATED":
        resource_type, summary = "dispute", "A new dispute opened with Case # PP-D-27803"
        dispute_id = f"PP-D-{secrets.randbelow(90_000) + 10_000}"
        resource = {
            "dispute_id": dispute_id,
            "create_time": stamp,
            "update_time": stamp,
            "disputed_transactions": [
                {
                    "seller_transaction_id": capture_id,
                    "create_time": stamp,
                    "transaction_status": "COMPLETED",
                    "gross_amount": amount,
                    "buyer": {"name": "John Doe"},
                    "seller": {"email": "sb-seller@business.example.com", "name": "Test Store"},
                }
            ],
            "reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
            "status": "OPEN",
            "dispute_amount": amount,
            "dispute_life_cycle_stage": "INQUIRY",
            "dispute_channel": "INTERNAL",
            "seller_response_due_date": (now + timedelta(days=20))
            .isoformat()
            .replace("+00:00", "Z"),
            "links": [
                {"href": f"{api}/v1/customer/disputes/{dispute_id}", "rel": "self", "method": "GET"}
            ],
        }
    elif event_type.startswith("BILLING.SUBSCRIPTION."):
        resource_type, summary = "subscription", "Subscription event"
        subscription_id = f"I-{_paypal_id(12)}"
        status = {
            "BILLING.SUBSCRIPTION.CREATED": "APPROVAL_PENDING",
            "BILLING.SUBSCRIPTION.CANCELLED": "CANCELLED",
        }.get(event_type, "ACTIVE")
        resource = {
            "id": subscription_id,
            "plan_id": f"P-{_paypal_id(24)}",
            "status": status,
            "status_update_time": stamp,
            "start_time": stamp,
            "quantity": "1",
            "subscriber": {
                "name": {"given_name": "John", "surname": "Doe"},
                "email_address": "customer@example.com",
                "payer_id": _paypal_id(13),
            },
            "billing_info": {
                "outstanding_balance": {"currency_code": "USD", "value": "0.00"},
                "cycle_executions": [
                    {
                        "tenure_type": "REGULAR",
                        "sequence": 1,
                        "cycles_completed": 0,
                        "cycles_remaining": 0,
                        "total_cycles": 0,
                    }
                ],
                "next_billing_time": (now + timedelta(days=30)).isoformat().replace("+00:00", "Z"),
                "failed_payments_count": 0,
            },
            "create_time": stamp,
            "update_time": stamp,
            "links": [
                {
                    "href": f"{api}/v1/billing/subscriptions/{subscription_id}",
                    "rel": "self",
                    "method": "GET",
                }
            ],
        }
    else:
        resource_type, summary = "checkout-order", "An order has been approved by buyer"
        resource = {
            "id": order_id,
            "intent": "CAPTURE",
            "status": "APPROVED",
            "purchase_units": [{"reference_id": "default", "amount": amount}],
            "create_time": stamp,
            "links": [
                {"href": f"{api}/v2/checkout/orders/{order_id}", "rel": "self", "method": "GET"}
            ],
        }
    event_id = f"WH-{_paypal_id()}-{_paypal_id()}"
    return {
        "id": event_id,
        "event_version": "1.0",
        "create_time": stamp,
        "resource_type": resource_type,
        "resource_version": "2.0",
        "event_type": event_type,
        "summary": summary,
        "resource": resource,
        "links": [
            {
                "href": f"{api}/v1/notifications/webhooks-events/{event_id}",
                "rel": "self",
                "method": "GET",
            },
            {
                "href": f"{api}/v1/notifications/webhooks-events/{event_id}/resend",
                "rel": "resend",
                "method": "POST",
            },
        ],
    }


class PayPalSimulator(Simulator[PayPalHandler]):
    vendor: ClassVar[str] = PayPalHandler.vendor
    sample_types: ClassVar[tuple[str, ...]] = (
        "PAYMENT.CAPTURE.COMPLETED",
        "PAYMENT.CAPTURE.DENIED",
        "PAYMENT.CAPTURE.REFUNDED",
        "CUSTOMER.DISPUTE.CREATED",
        "BILLING.SUBSCRIPTION.CREATED",
        "BILLING.SUBSCRIPTION.UPDATED",
        "BILLING.SUBSCRIPTION.CANCELLED",
        "CHECKOUT.ORDER.APPROVED",
    )

    def sample(self, event_type: str | None) -> bytes:
        event_type = event_type or self.sample_types[0]
        return json.dumps(_sample(event_type), indent=2).encode()

    def generate_keys(self, key_dir: Path) -> str:
        """A self-signed certificate standing in for PayPal's, pinned to `LOCAL_CERT_URL`."""
        directory = key_dir / self.vendor
        directory.mkdir(parents=True, exist_ok=True)
        key = keys.rsa_key()
        certificate = keys.self_signed(
            key,
            LOCAL_CERT_NAME,
            organization="ingest local test (not PayPal)",
            not_before=datetime.now(UTC) - timedelta(days=1),
        )
        cert_path = directory / "cert.pem"
        keys.write_private_key(directory / "key.pem", key)
        keys.write_certificate(cert_path, certificate)
        return (
            f"# key and self-signed certificate written to {key_dir / self.vendor}; a local\n"
            "# stand-in for PayPal's certificate, for `ingest send`. In sources.yaml:\n"
            "    vendor: paypal\n"
            f"    webhook_id: {LOCAL_WEBHOOK_ID}  # your webhook's id from PayPal in production\n"
            "    certificates:\n"
            f'      "{LOCAL_CERT_URL}": "{cert_path.resolve()}"\n'
        )

    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        key_path = context.key_dir / self.vendor / "key.pem"
        key = keys.read_rsa_key(key_path, self.vendor)
        transmission_id = str(uuid.uuid4())
        transmission_time = datetime.fromtimestamp(int(now), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        webhook_id = self.handler.options(context.source, PayPalOptions).webhook_id
        message = signed_string(transmission_id, transmission_time, webhook_id, body)
        signature = key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "PayPal/AUHD-214.0-58236116",
            "PAYPAL-AUTH-ALGO": AUTH_ALGORITHM,
            "PAYPAL-AUTH-VERSION": "v2",
            "PAYPAL-CERT-URL": LOCAL_CERT_URL,
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode(),
            "PAYPAL-TRANSMISSION-TIME": transmission_time,
        }
        return SignedRequest(headers=headers, body=body, url=context.url)
