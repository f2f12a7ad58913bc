"""What `gcs` sends, simulated for `ingest send`, the benchmarks and the tests: sample bodies with
fresh ids, signed as the vendor signs them. The service never imports this to receive."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

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
    sample_types: ClassVar[tuple[str, ...]] = (
        "OBJECT_FINALIZE",
        "OBJECT_DELETE",
        "OBJECT_METADATA_UPDATE",
    )

    def sample(self, event_type: str | None) -> bytes:
        """A push envelope around Cloud Storage's documented JSON_API_V1 notification."""
        event_type = event_type or self.sample_types[0]
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        generation = str(secrets.randbelow(10**16) + 10**15)
        name = f"uploads/{uuid.uuid4().hex}.jpg"
        resource = {
            "kind": "storage#object",
            "id": f"example-bucket/{name}/{generation}",
            "selfLink": f"https://www.googleapis.com/storage/v1/b/example-bucket/o/{name}",
            "name": name,
            "bucket": "example-bucket",
            "generation": generation,
            "metageneration": "1",
            "contentType": "image/jpeg",
            "timeCreated": now,
            "updated": now,
            "storageClass": "STANDARD",
            "size": "102400",
            "md5Hash": "RZ+WV8lUKvIrBE5gNeLw5A==",
            "crc32c": "SvYh9w==",
            "etag": "CNiJ7c3J5+sCEAE=",
            "metadata": {"uploaded-by": "ingest-sample"},
        }
        attributes = {
            "notificationConfig": "projects/_/buckets/example-bucket/notificationConfigs/1",
            "eventType": event_type,
            "payloadFormat": "JSON_API_V1",
            "bucketId": "example-bucket",
            "objectId": name,
            "objectGeneration": generation,
            "eventTime": now,
        }
        message_id = str(secrets.randbelow(10**16))
        envelope = {
            "message": {
                "attributes": attributes,
                "data": base64.b64encode(json.dumps(resource).encode()).decode(),
                "messageId": message_id,
                "message_id": message_id,
                "publishTime": now,
                "publish_time": now,
            },
            "subscription": "projects/example-project/subscriptions/gcs-notifications",
        }
        return json.dumps(envelope, indent=2).encode()

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
