"""What a sender configured with Basic auth sends: the simulators of Mixpanel, Datadog,
Postmark and the basic-auth vendor sign with the first configured credential."""

from __future__ import annotations

import base64
from collections.abc import Sequence

from ingest.handlers.schemes.credentials import BasicCredential


def basic_authorization(credential: BasicCredential) -> str:
    """The `Authorization` value a sender configured with `credential` sends."""
    pair = f"{credential.username}:{credential.password}".encode()
    return f"Basic {base64.b64encode(pair).decode('ascii')}"


def first_basic_credential(credentials: Sequence[BasicCredential]) -> BasicCredential | None:
    """The credential `ingest send` signs with: the first of the source's `basic_auth`."""
    return credentials[0] if credentials else None
