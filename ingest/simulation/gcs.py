"""What `gcs` sends, simulated for `ingest send`, the benchmarks and the tests: the bodies are data
(`samples/gcs.json`), signed here as the vendor signs them. The service never imports this."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from typing_extensions import override

from ingest.errors import ConfigError
from ingest.handlers.gcs import JWKS_FILE, KEY_FILE, LOCAL_KID, GcsHandler, GcsOptions
from ingest.simulation import keys
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


def local_jwks(public_key: rsa.RSAPublicKey, kid: str = LOCAL_KID) -> dict[str, Any]:
    """A JWKS document shaped like Google's (kty, n, e, kid, alg, use)."""
    jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    return {"keys": [{**jwk, "kid": kid, "alg": "RS256", "use": "sig"}]}


class GcsSimulator(Simulator[GcsHandler]):
    vendor: ClassVar[str] = GcsHandler.vendor

    @override
    def generate_keys(self, key_dir: Path) -> str:
        directory = key_dir / self.vendor
        directory.mkdir(parents=True, exist_ok=True)
        key = keys.rsa_key()
        key_path, jwks_path = directory / KEY_FILE, directory / JWKS_FILE
        keys.write_private_key(key_path, key)
        jwks_path.write_text(json.dumps(local_jwks(key.public_key()), indent=2))
        return (
            f"# key written to {key_path} and its key set to {jwks_path}; trust it in "
            "sources.yaml:\n"
            "    vendor: gcs\n"
            "    audience: https://ingest.example.com/webhooks/<source>\n"
            "    service_account_email: push@example-project.iam.gserviceaccount.com\n"
            f"    jwks: {jwks_path.resolve()}\n"
        )

    @override
    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        """Mint the OIDC token Pub/Sub would attach, with the local key."""
        options = self.handler.options(context.source, GcsOptions)
        path = context.key_dir / self.vendor / KEY_FILE
        try:
            private_pem = path.read_bytes()
        except FileNotFoundError:
            raise ConfigError(
                f"no GCS signing key at {path}; run `ingest keys generate gcs` first"
            ) from None
        subject = "113774264463038321964"
        claims = {
            "aud": options.audience,
            "azp": subject,
            "email": options.service_account_email,
            "email_verified": True,
            "exp": int(now) + 3600,
            "iat": int(now),
            "iss": "https://accounts.google.com",
            "sub": subject,
        }
        token = jwt.encode(claims, private_pem, algorithm="RS256", headers={"kid": LOCAL_KID})
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)",
            "Authorization": f"Bearer {token}",
        }
        return SignedRequest(headers=headers, body=body, url=context.url)
