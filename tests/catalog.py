"""A source for every vendor in the catalog, configured as a user would: the keys each vendor
needs beyond a shared secret, plus what `ingest keys generate` prints for asymmetric schemes."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import yaml

from ingest.errors import ConfigError
from ingest.handlers import HANDLERS
from ingest.simulation import simulator
from ingest.simulation.base import SigningContext
from ingest.sources import RawOptions, SourceConfig

# Valid for every shared-secret scheme, including Standard Webhooks' base64 keys.
SECRET = "whsec_dGVzdC1zZWNyZXQtdmFsdWUtMDEyMzQ1Njc4OQ=="
ABLY_KEY = "appId.keyId:a-long-key-secret"  # Ably's secrets are whole API keys
PASSWORD = {"username": "user", "password": "a-long-enough-password"}
TOKEN = "a-long-enough-token-value"

OPTIONS: dict[str, dict[str, Any]] = {
    "square": {"notification_url": "https://i.test/webhooks/square"},
    "postmark": {"basic_auth": [PASSWORD]},
    "basic-auth": {"basic_auth": [PASSWORD]},
    "mixpanel": {"basic_auth": [PASSWORD]},
    "header-token": {"tokens": [TOKEN]},
    "auth0": {"tokens": [TOKEN]},
    "okta": {"tokens": [TOKEN]},
    "datadog": {"tokens": [TOKEN]},
    "generic-hmac": {"header": "x-signature"},
    "pusher": {"app_key": "app-key-1"},
}
# Vendors whose secrets are optional but used by their samples.
USES_SECRETS = frozenset({"generic-hmac", "standard-webhooks", "anthropic", "r2", "openai"})


def source_document(vendor: str, key_dir: Path) -> dict[str, Any]:
    """The mapping under `sources.<name>` in sources.yaml for `vendor`."""
    handler = HANDLERS[vendor]
    document: dict[str, Any] = {"vendor": vendor, **OPTIONS.get(vendor, {})}
    try:
        snippet = simulator(handler).generate_keys(key_dir)
    except ConfigError:  # a shared-secret vendor: nothing to generate
        pass
    else:
        generated = yaml.safe_load(textwrap.dedent(snippet)) or {}
        document.update({k: v for k, v in generated.items() if k != "vendor"})
    if handler.requires_secrets or vendor in USES_SECRETS:
        document["secrets"] = [ABLY_KEY if vendor == "ably" else SECRET]
    return document


def source_config(vendor: str, key_dir: Path, *, name: str = "s", **options: Any) -> SourceConfig:
    """`source_document`'s source, checked by its vendor as at start-up; `options` override
    its keys (a differently configured generic vendor)."""
    document = {**source_document(vendor, key_dir), **options}
    return HANDLERS[vendor].check_config(
        SourceConfig(
            name=name,
            vendor=vendor,
            secrets=tuple(document.get("secrets", ())),
            options=RawOptions.of(
                {k: v for k, v in document.items() if k not in {"vendor", "secrets"}}
            ),
        )
    )


def signing_context(source: SourceConfig, key_dir: Path) -> SigningContext:
    """How `ingest send` signs for `source`: its first secret, to the URL it is reached at (the
    audience, for vendors whose token names one), with the keys `ingest keys generate` made."""
    audience = getattr(source.options, "audience", None)
    url = audience if isinstance(audience, str) else f"https://i.test/webhooks/{source.name}"
    secret = source.secrets[0] if source.secrets else None
    return SigningContext(source=source, url=url, secret=secret, key_dir=key_dir)
