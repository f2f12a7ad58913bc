"""`ingest.simulation.credentials`: what a sender configured with Basic auth sends.

The header is checked against httpx's own `BasicAuth`, a maintained client, rather than against
a value computed the same way here: a simulator that encoded it wrongly would make the handler's
tests pass against a request no real sender makes.
"""

from __future__ import annotations

import httpx

from ingest.handlers.schemes.credentials import BasicCredential
from ingest.simulation.credentials import basic_authorization, first_basic_credential


def _httpx_authorization(username: str, password: str) -> str:
    request = httpx.Request("POST", "https://ingest.test/webhooks/mixpanel")
    flow = httpx.BasicAuth(username, password).sync_auth_flow(request)
    return next(flow).headers["authorization"]


def test_the_header_is_what_a_real_http_client_sends() -> None:
    for username, password in [("mixpanel", "s3cret"), ("a", "p:with:colons"), ("u", "x" * 300)]:
        credential = BasicCredential(username=username, password=password)
        assert basic_authorization(credential) == _httpx_authorization(username, password)


def test_the_first_configured_credential_signs() -> None:
    first = BasicCredential(username="new", password="rotated-in")
    second = BasicCredential(username="old", password="rotating-out")
    assert first_basic_credential([first, second]) is first
    assert first_basic_credential([]) is None
