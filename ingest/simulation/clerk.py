"""What `clerk` sends, simulated for `ingest send`, the benchmarks and the tests: sample bodies
with fresh ids, signed as the vendor signs them. The service never imports this to receive."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any, ClassVar

from ingest.errors import ConfigError
from ingest.handlers.clerk import ClerkHandler
from ingest.simulation.base import SignedRequest, SigningContext
from ingest.simulation.standard_webhooks import StandardWebhooksSimulator


def _sample_user(user_id: str, now_ms: int) -> dict[str, Any]:
    email_id = f"idn_{secrets.token_hex(12)}"
    return {
        "birthday": "",
        "created_at": now_ms,
        "email_addresses": [
            {
                "email_address": "example@example.org",
                "id": email_id,
                "linked_to": [],
                "object": "email_address",
                "verification": {"status": "verified", "strategy": "ticket"},
            }
        ],
        "external_accounts": [],
        "external_id": None,
        "first_name": "Example",
        "gender": "",
        "id": user_id,
        "image_url": "https://img.clerk.com/xxxxxx",
        "last_name": "Example",
        "last_sign_in_at": now_ms,
        "object": "user",
        "password_enabled": True,
        "phone_numbers": [],
        "primary_email_address_id": email_id,
        "primary_phone_number_id": None,
        "primary_web3_wallet_id": None,
        "private_metadata": {},
        "profile_image_url": "https://www.gravatar.com/avatar?d=mp",
        "public_metadata": {},
        "two_factor_enabled": False,
        "unsafe_metadata": {},
        "updated_at": now_ms,
        "username": None,
        "web3_wallets": [],
    }


class ClerkSimulator(StandardWebhooksSimulator):
    vendor: ClassVar[str] = ClerkHandler.vendor
    sample_types: ClassVar[tuple[str, ...]] = (
        "user.created",
        "user.updated",
        "user.deleted",
        "session.created",
        "session.ended",
        "session.removed",
        "session.revoked",
        "email.created",
    )

    def generate_keys(self, key_dir: Path) -> str:
        raise ConfigError("vendor clerk signs with a shared secret (whsec_…); there are no keys")

    def sample(self, event_type: str | None) -> bytes:
        """After the payloads in Clerk's webhook documentation and event catalog."""
        event_type = event_type or self.sample_types[0]
        now_ms = int(time.time() * 1000)
        suffix = secrets.token_hex(12)
        user = _sample_user(f"user_{suffix}", now_ms)
        data: dict[str, Any]
        if event_type == "user.deleted":
            data = {"deleted": True, "id": user["id"], "object": "user"}
        elif event_type.startswith("user."):
            data = user
        elif event_type.startswith("session."):
            status = {"session.created": "active"}.get(event_type, event_type.split(".")[1])
            data = {
                "object": "session",
                "id": f"sess_{secrets.token_hex(12)}",
                "user_id": user["id"],
                "user": user,
                "client_id": f"client_{secrets.token_hex(12)}",
                "actor": None,
                "status": status,
                "last_active_organization_id": None,
                "last_active_at": now_ms,
                "expire_at": now_ms + 7 * 86_400_000,
                "abandon_at": now_ms + 30 * 86_400_000,
                "updated_at": now_ms,
                "created_at": now_ms,
            }
        else:
            data = {
                "object": "email",
                "id": f"ema_{secrets.token_hex(12)}",
                "slug": "verification_code",
                "status": "queued",
                "subject": "123456 is your verification code",
                "to_email_address": "example@example.org",
                "email_address_id": user["primary_email_address_id"],
                "user_id": user["id"],
                "delivered_by_clerk": True,
            }
        payload = {
            "data": data,
            "event_attributes": {
                "http_request": {
                    "client_ip": "192.168.1.100",
                    "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) "
                    "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
                }
            },
            "instance_id": "ins_123",
            "object": "event",
            "timestamp": now_ms,
            "type": event_type,
        }
        return json.dumps(payload, indent=2).encode()

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
