"""PayPal: an RSA signature (SHA256withRSA, PKCS#1 v1.5) made with PayPal's certificate.

PayPal signs `{transmission id}|{transmission time}|{webhook id}|{CRC-32 of the body}` (the CRC as
an unsigned decimal) and names the certificate to check it with in `PAYPAL-CERT-URL`. This is the
"self-verification" PayPal documents next to its verify-webhook-signature postback API, as done
by PayPal's own Python SDK (`paypalrestsdk.notifications.WebhookEvent.verify`).

The webhook id is what ties a delivery to *our* subscription: any PayPal merchant's event is
signed with the same certificate, so without our webhook id in the signed string a real event for
someone else would verify. It is configuration (`webhook_id`), not a secret; there are no secrets.

The certificate URL is attacker-controlled input, so:

- it must be https on one of PayPal's API hosts, under `/v1/notifications/certs/`, or it is never
  fetched (`InvalidSignatureError`); the service fetches it through the allowlisted outbound
  client and caches it, or reads the file pinned for that URL in `certificates`;
- the certificate must be valid at `now` and name a `*.paypal.com` host as its subject CN, the
  checks PayPal's SDK makes. The SDK also checks the chain against DigiCert roots it bundles; we
  rely instead on where the certificate came from: TLS to a PayPal host we allowlist, or a file
  the operator pinned. Bundled roots would go stale (the SDK's already have).

Replay: PayPal signs the transmission time (RFC 3339). PayPal documents no window, so the default
is the usual 300 s, both directions; each delivery attempt is a new transmission with its own time.
Dedup is on the event's `id` (`WH-…`), which stays the same across retries.

Rotation: PayPal rotates its certificate itself (a new URL in `PAYPAL-CERT-URL`, fetched on first
sight), and a webhook has exactly one id: there is nothing to rotate on our side, so
`secret_index` is always 0.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from typing_extensions import override

from ingest.errors import ConfigError
from ingest.handlers import base
from ingest.handlers.schemes import certificate
from ingest.schemas import payments
from ingest.schemas.base import Money, money_from_decimal
from ingest.sources import SourceConfig

TRANSMISSION_ID = "paypal-transmission-id"
TRANSMISSION_TIME = "paypal-transmission-time"
CERT_URL = "paypal-cert-url"
AUTH_ALGO = "paypal-auth-algo"
AUTH_ALGORITHM = "SHA256withRSA"

# Hosts PayPal serves its webhook certificates from (live and sandbox, classic and `api-m`).
CERT_HOSTS = frozenset(
    ("api.paypal.com", "api-m.paypal.com", "api.sandbox.paypal.com", "api-m.sandbox.paypal.com")
)
CERT_PATH = "/v1/notifications/certs/"
CERT_NAME_SUFFIX = ".paypal.com"
LOCAL_CERT_URL = "https://api.paypal.com/v1/notifications/certs/CERT-ingest-local"
"""The URL `ingest keys generate paypal` pins its self-signed certificate to (never fetched)."""
LOCAL_CERT_NAME = "ingest-local.messageverificationcerts.paypal.com"
LOCAL_WEBHOOK_ID = "INGESTLOCAL0WEBHOOK"

# Limits from PayPal's verify-webhook-signature request schema (cert_url 500, transmission_id 50,
# transmission_time 100); the signature of a 4096-bit key is 684 base64 characters.
MAX_CERT_URL = 500
MAX_SIGNATURE = 1024
TRANSMISSION_ID_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,50}")
# RFC 3339 with an explicit offset: the header is signed verbatim, so it is parsed strictly.
TRANSMISSION_TIME_PATTERN = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)


def acceptable_cert_url(url: str) -> bool:
    """https on a PayPal certificate host and path, nothing else (no port, userinfo, query)."""
    parts = certificate.plain_https(url, max_length=MAX_CERT_URL)
    return (
        parts is not None
        and (parts.hostname or "") in CERT_HOSTS
        and parts.netloc.lower() == parts.hostname  # not even an explicit :443
        and parts.path.startswith(CERT_PATH)
        and not parts.query
        and not parts.fragment
    )


class PayPalOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{1,50}$")]
    """The id PayPal shows for this webhook (Developer Dashboard → the app → Webhooks)."""
    certificates: dict[str, str] = Field(default_factory=dict)
    """Certificate URL → local PEM file, read instead of fetching (air-gapped installs, tests)."""

    @field_validator("certificates")
    @classmethod
    def _pinned_paypal_files(cls, value: dict[str, str]) -> dict[str, str]:
        for url, path in value.items():
            if not acceptable_cert_url(url):
                raise ValueError(f"{url!r} is not a PayPal certificate URL ({CERT_PATH}…)")
            try:
                document = Path(path).read_bytes()
            except OSError as exc:
                raise ValueError(f"{url!r}: cannot read {path} ({exc.strerror})") from None
            if certificate.leaf(document) is None:
                raise ValueError(f"{url!r}: {path} is not a PEM certificate")
        return value


def _names_paypal(certificate: x509.Certificate) -> bool:
    try:
        names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError:
        return False
    return any(
        isinstance(name.value, str) and name.value.lower().endswith(CERT_NAME_SUFFIX)
        for name in names
    )


def _transmission_time(raw: str) -> int:
    """Unix seconds of PAYPAL-TRANSMISSION-TIME, which is RFC 3339 with an offset."""
    if len(raw) > 100 or not TRANSMISSION_TIME_PATTERN.fullmatch(raw):
        raise base.InvalidSignatureError("PAYPAL-TRANSMISSION-TIME is not an RFC 3339 time")
    try:
        return int(datetime.fromisoformat(raw).timestamp())
    except (ValueError, OverflowError):  # 2024-13-45T…, or year 1 at -23:59: not a usable time
        raise base.InvalidSignatureError(
            "PAYPAL-TRANSMISSION-TIME is not an RFC 3339 time"
        ) from None


def signed_string(
    transmission_id: str, transmission_time: str, webhook_id: str, body: bytes
) -> str:
    """What PayPal signs; the CRC-32 of the raw body as an unsigned decimal."""
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{zlib.crc32(body) & 0xFFFFFFFF}"


def _amount(raw: Any) -> Money:
    """PayPal's `{"currency_code": "USD", "value": "10.99"}` as Money (ValueError if not)."""
    if not isinstance(raw, dict):
        raise ValueError("PayPal object has no amount")
    value, currency = raw.get("value"), raw.get("currency_code")
    if not isinstance(value, str) or not isinstance(currency, str):
        raise ValueError("PayPal amount lacks a value and a currency_code")
    return money_from_decimal(value, currency)


def _metadata(resource: dict[str, Any]) -> dict[str, str]:
    """The merchant's own references PayPal echoes back: the closest thing to metadata."""
    return {
        key: value
        for key in ("custom_id", "invoice_id")
        if isinstance(value := resource.get(key), str) and value
    }


def _capture_id(refund: dict[str, Any]) -> str:
    """A refund names its capture only through its `up` link (`/v2/payments/captures/{id}`)."""
    for link in refund.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == "up":
            path = urlsplit(str(link.get("href", ""))).path
            if "/captures/" in path:
                return path.rstrip("/").rsplit("/", 1)[-1]
    raise ValueError("PayPal refund has no link up to its capture")


SUBSCRIPTION_EVENTS: dict[str, type[payments.SubscriptionEvent]] = {
    "BILLING.SUBSCRIPTION.CREATED": payments.SubscriptionCreated,
    "BILLING.SUBSCRIPTION.UPDATED": payments.SubscriptionUpdated,
    "BILLING.SUBSCRIPTION.CANCELLED": payments.SubscriptionCanceled,
}


def _capture(resource: dict[str, Any], occurred_at: datetime) -> dict[str, Any]:
    """What a capture's succeeded and failed events share: the capture, its amount, its order."""
    related = (resource.get("supplementary_data") or {}).get("related_ids") or {}
    return {
        "provider": "paypal",
        "payment_id": resource["id"],
        "amount": _amount(resource.get("amount")),
        "occurred_at": occurred_at,
        "metadata": _metadata(resource),
        "order_id": related.get("order_id"),
    }


EVENT_FIELDS = base.EventFields(vendor="PayPal", id="id", type="event_type")


class PayPalHandler(base.FieldsIdentified):
    vendor: ClassVar[str] = "paypal"
    summary: ClassVar[str] = (
        "PAYPAL-TRANSMISSION-SIG: SHA256withRSA of 'id|time|webhook_id|crc32(body)', "
        "certificate from PAYPAL-CERT-URL"
    )
    signature_headers: ClassVar[tuple[str, ...]] = (
        "PAYPAL-TRANSMISSION-ID",
        "PAYPAL-TRANSMISSION-TIME",
        "PAYPAL-TRANSMISSION-SIG",
        "PAYPAL-CERT-URL",
        "PAYPAL-AUTH-ALGO",
    )
    options_model: ClassVar[type[BaseModel]] = PayPalOptions
    requires_secrets: ClassVar[bool] = False
    default_tolerance_seconds: ClassVar[int | None] = 300
    document_hosts: ClassVar[tuple[re.Pattern[str], ...]] = tuple(
        re.compile(re.escape(host)) for host in sorted(CERT_HOSTS)
    )
    # PayPal serves its certificates with `Cache-Control: public,max-age=86400`.
    document_cache_seconds: ClassVar[float] = 86_400.0
    event_fields: ClassVar[base.EventFields] = EVENT_FIELDS
    mapped_types: ClassVar[Mapping[str, str]] = {
        "PAYMENT.CAPTURE.COMPLETED": "payment.succeeded",
        "PAYMENT.CAPTURE.DENIED": "payment.failed",
        "PAYMENT.CAPTURE.DECLINED": "payment.failed",
        "PAYMENT.CAPTURE.REFUNDED": "payment.refunded",
        "CUSTOMER.DISPUTE.CREATED": "payment.disputed",
        "BILLING.SUBSCRIPTION.CREATED": "subscription.created",
        "BILLING.SUBSCRIPTION.UPDATED": "subscription.updated",
        "BILLING.SUBSCRIPTION.CANCELLED": "subscription.canceled",
    }

    @override
    def check_config(self, source: SourceConfig) -> SourceConfig:
        if source.secrets:
            # A webhook id or a key pasted into `secrets` would otherwise be silently ignored.
            raise ConfigError(
                f"source {source.name!r}: vendor paypal uses no 'secrets'; set 'webhook_id'"
            )
        return super().check_config(source)

    @override
    def pinned_documents(self, source: SourceConfig) -> Mapping[str, str]:
        return self.options(source, PayPalOptions).certificates

    @override
    def documents(self, request: base.InboundRequest) -> list[str]:
        url = request.headers.get(CERT_URL, "").strip()
        # Anything else is refused in `verify` without ever being handed to the fetcher.
        return [url] if acceptable_cert_url(url) else []

    @override
    def verify(self, check: base.Verification) -> base.Verdict:
        request, source, now, documents = check.request, check.source, check.now, check.documents
        headers = request.headers
        signature_b64 = request.required_header("PAYPAL-TRANSMISSION-SIG")
        transmission_id = headers.get(TRANSMISSION_ID, "").strip()
        transmission_time = headers.get(TRANSMISSION_TIME, "").strip()
        cert_url = headers.get(CERT_URL, "").strip()
        if not transmission_id or not transmission_time or not cert_url:
            raise base.MissingSignatureError(
                "PAYPAL-TRANSMISSION-ID, PAYPAL-TRANSMISSION-TIME and PAYPAL-CERT-URL are required"
            )
        # `|` separates the signed fields; one inside a field could shift them.
        if not TRANSMISSION_ID_PATTERN.fullmatch(transmission_id):
            raise base.InvalidSignatureError("PAYPAL-TRANSMISSION-ID is malformed")
        algorithm = headers.get(AUTH_ALGO, AUTH_ALGORITHM).strip()
        if algorithm.lower() != AUTH_ALGORITHM.lower():
            raise base.InvalidSignatureError(f"PAYPAL-AUTH-ALGO must be {AUTH_ALGORITHM}")
        signed_at = _transmission_time(transmission_time)
        base.check_tolerance(signed_at, now, self.tolerance(source))

        if not acceptable_cert_url(cert_url):
            raise base.InvalidSignatureError("PAYPAL-CERT-URL is not a PayPal certificate URL")
        signing = certificate.signing_certificate(documents.get(cert_url), now, "PayPal")
        if not _names_paypal(signing):
            raise base.InvalidSignatureError("the certificate is not issued to a paypal.com name")
        signature = certificate.decode_signature(
            signature_b64, MAX_SIGNATURE, "PAYPAL-TRANSMISSION-SIG"
        )
        webhook_id = self.options(source, PayPalOptions).webhook_id
        message = signed_string(transmission_id, transmission_time, webhook_id, request.body)
        certificate.verify_rsa(signing, signature, message.encode(), hashes.SHA256, "PayPal")
        return base.Verdict(secret_index=0, signed_at=signed_at)

    @override
    def normalize(self, delivery: base.Delivery) -> list[base.Emitted]:
        event = delivery.json_object()
        resource = base.required_object(event.get("resource"), "PayPal event's resource")
        occurred_at = base.iso_time(event.get("create_time")) or delivery.received_at
        event_type = delivery.event_type
        if (model := SUBSCRIPTION_EVENTS.get(event_type)) is not None:
            return [self._subscription(model, resource, occurred_at)]
        data: (
            payments.PaymentSucceeded
            | payments.PaymentFailed
            | payments.PaymentRefunded
            | payments.PaymentDisputed
        )
        match event_type:
            case "PAYMENT.CAPTURE.COMPLETED":
                data = payments.PaymentSucceeded(**_capture(resource, occurred_at))
            case "PAYMENT.CAPTURE.DENIED" | "PAYMENT.CAPTURE.DECLINED":
                details = resource.get("status_details") or {}
                data = payments.PaymentFailed(
                    **_capture(resource, occurred_at), failure_code=details.get("reason")
                )
            case "PAYMENT.CAPTURE.REFUNDED":
                # The resource is the refund; its payment is the capture it links `up` to.
                refund_amount = _amount(resource.get("amount"))
                breakdown = resource.get("seller_payable_breakdown") or {}
                total = breakdown.get("total_refunded_amount")
                data = payments.PaymentRefunded(
                    provider="paypal",
                    payment_id=_capture_id(resource),
                    amount=_amount(total) if total is not None else refund_amount,
                    occurred_at=occurred_at,
                    metadata=_metadata(resource),
                    refund_id=resource["id"],
                    refund_amount=refund_amount,
                )
            case "CUSTOMER.DISPUTE.CREATED":
                transactions = resource.get("disputed_transactions") or [{}]
                data = payments.PaymentDisputed(
                    provider="paypal",
                    # The capture (seller transaction) disputed: keyed like its other events.
                    payment_id=transactions[0]["seller_transaction_id"],
                    amount=_amount(resource.get("dispute_amount")),
                    occurred_at=base.iso_time(resource.get("create_time")) or occurred_at,
                    dispute_id=resource["dispute_id"],
                    reason=resource.get("reason"),
                    status=resource.get("status"),
                    evidence_due_by=base.iso_time(resource.get("seller_response_due_date")),
                )
            case _:
                return [base.passthrough(delivery, event)]
        return [base.Emitted(data=data, key=data.payment_id, subject=data.payment_id)]

    @staticmethod
    def _subscription(
        model: type[payments.SubscriptionEvent], resource: dict[str, Any], occurred_at: datetime
    ) -> base.Emitted:
        subscriber = resource.get("subscriber") or {}
        billing = resource.get("billing_info") or {}
        canceled = model is payments.SubscriptionCanceled
        data = model(
            provider="paypal",
            subscription_id=resource["id"],
            customer_id=subscriber.get("payer_id"),
            status=resource["status"],
            plan_id=resource.get("plan_id"),
            current_period_end=base.iso_time(billing.get("next_billing_time")),
            canceled_at=base.iso_time(resource.get("status_update_time")) if canceled else None,
            occurred_at=occurred_at,
            metadata=_metadata(resource),
        )
        return base.Emitted(data=data, key=data.subscription_id, subject=data.subscription_id)
