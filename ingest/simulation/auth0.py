"""What `auth0` sends, simulated for `ingest send`, the benchmarks and the tests: sample bodies
with fresh ids, signed as the vendor signs them. The service never imports this to receive."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any, ClassVar

from ingest.handlers.auth0 import (
    CLOUDEVENT_TYPE_PREFIX,
    LOGIN_FAILED_CODES,
    LOGIN_SUCCEEDED_CODES,
    SESSION_ENDED_CODES,
    Auth0Handler,
    _records,
)
from ingest.handlers.base import MalformedRequestError
from ingest.handlers.schemes.credentials import TokenCredentials
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _sample_log(code: str) -> dict[str, Any]:
    """Shaped like the log stream events in Auth0's docs and its log event schemas."""
    log_id = "900" + "".join(str(secrets.randbelow(10)) for _ in range(53))
    user_hex = secrets.token_hex(12)
    log: dict[str, Any] = {
        "date": _now_iso(),
        "type": code,
        "description": "",
        "connection": "Username-Password-Authentication",
        "connection_id": "con_1a5wCUmAs6VOU17n",
        "client_id": "aI61p8I8aFjmYRliLWgvM9ev97kCCNDB",
        "client_name": "Default App",
        "ip": "81.2.69.143",
        "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/95.0.4638.69 Safari/537.36",
        "details": {},
        "hostname": "dev-example.us.auth0.com",
        "user_id": f"auth0|{user_hex}",
        "user_name": "jane.doe@example.com",
        "strategy": "auth0",
        "strategy_type": "database",
        "log_id": log_id,
    }
    if code in LOGIN_SUCCEEDED_CODES or code in SESSION_ENDED_CODES:
        log["details"] = {"session_id": secrets.token_urlsafe(24), "stats": {"loginsCount": 4}}
    if code in LOGIN_FAILED_CODES:
        log["description"] = "Wrong email or password."
        log["details"] = {"error": {"message": "Wrong email or password."}}
        if code == "fu":
            log["user_id"] = ""
    if code == "sapi":
        log["description"] = "Update a user"
        log["details"] = {"request": {"method": "patch", "path": f"/api/v2/users/auth0|{user_hex}"}}
    return {"log_id": log_id, "data": log}


def _sample_cloudevent(event_type: str) -> dict[str, Any]:
    """Shaped like the event stream CloudEvents in Auth0's event type reference."""
    now = _now_iso()
    user: dict[str, Any] = {
        "user_id": f"auth0|{secrets.token_hex(12)}",
        "email": "jane.doe@example.com",
        "email_verified": True,
        "given_name": "Jane",
        "family_name": "Doe",
        "name": "Jane Doe",
        "nickname": "jane.doe",
        "identities": [
            {
                "connection": "Username-Password-Authentication",
                "user_id": secrets.token_hex(12),
                "provider": "auth0",
                "isSocial": False,
            }
        ],
        "created_at": now,
        "updated_at": now,
        "user_metadata": {},
        "app_metadata": {},
        "picture": "https://s.gravatar.com/avatar/example.png",
    }
    if event_type.endswith("deleted"):
        user["deleted_at"] = now
    return {
        "specversion": "1.0",
        "type": event_type,
        "source": "urn:auth0:dev-example.us.auth0.com",
        "id": f"evt_{secrets.token_hex(8)}",
        "time": now,
        "data": {"object": user},
        "a0tenant": "dev-example",
        "a0stream": f"est_{secrets.token_hex(8)}",
    }


class Auth0Simulator(Simulator[Auth0Handler]):
    vendor: ClassVar[str] = Auth0Handler.vendor
    sample_types: ClassVar[tuple[str, ...]] = (
        "s",
        "f",
        "fp",
        "fu",
        "ss",
        "sdu",
        "slo",
        "sapi",
        "user.created",
        "user.updated",
        "user.deleted",
    )

    def sample(self, event_type: str | None) -> bytes:
        event_type = event_type or self.sample_types[0]
        if event_type.removeprefix(CLOUDEVENT_TYPE_PREFIX).startswith("user."):
            return json.dumps(_sample_cloudevent(event_type), indent=2).encode()
        return json.dumps([_sample_log(event_type)], indent=2).encode()

    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        token = context.secret or self.handler.options(context.source, TokenCredentials).tokens[0]
        try:
            kind, _ = _records(body)
        except MalformedRequestError:
            kind = "logs"
        # Event streams send a Bearer token; log streams send the configured value verbatim.
        authorization = f"Bearer {token}" if kind == "cloudevent" else token
        headers = {"Content-Type": "application/json", "Authorization": authorization}
        return SignedRequest(headers=headers, body=body, url=context.url)
