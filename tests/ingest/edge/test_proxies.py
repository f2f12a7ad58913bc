"""`ingest.edge.proxies.TrustedProxiesMiddleware`: whose address a request is said to come from.

An `ip_allowlist` is only as good as this: `X-Forwarded-For` is believed only from a peer in
`INGEST_TRUSTED_PROXIES`, and then only its rightmost hop that is not itself a trusted proxy
(the leftmost were written by the client); a malformed hop stops the walk, leaving the peer.
`X-Forwarded-Proto` is taken from trusted proxies only. Tested through the real app (the
allowlist decision, and `ingest serve` not trusting localhost) and by calling the middleware
directly (each parsing rule, on the scope the app would see)."""

from __future__ import annotations

import copy
import ipaddress
from pathlib import Path

import httpx
import pytest
import yaml

from ingest.edge.proxies import MAX_HOPS, TrustedProxiesMiddleware
from ingest.networks import parse_networks
from tests import support
from tests.ingest.conftest import AppFactory
from tests.ingest.edge.kit import LOCKED, Recorder, call, http_scope, signed

PROXIES = "10.0.0.0/8, 2001:db8:1::/48"


async def seen_by_app(
    headers: list[tuple[str, str]],
    *,
    peer: str | None = "10.1.2.3",
    trusted: str = PROXIES,
) -> tuple[str | None, str]:
    """The client address and scheme the app behind the middleware is given."""
    endpoint = Recorder()
    scope = http_scope(headers=headers, client=(peer, 43210) if peer is not None else None)
    await call(TrustedProxiesMiddleware(endpoint, parse_networks(trusted)), scope)
    [seen] = endpoint.scopes
    client = seen["client"]
    return (client[0] if client else None), seen["scheme"]


async def test_a_trusted_ipv4_proxy_seen_through_a_dual_stack_socket_is_trusted() -> None:
    seen = await seen_by_app([("x-forwarded-for", "203.0.113.9")], peer="::ffff:10.1.2.3")
    assert seen == ("203.0.113.9", "http")
    hops = [("x-forwarded-for", "203.0.113.9, ::ffff:10.9.9.9")]
    assert (await seen_by_app(hops, peer="10.1.2.3"))[0] == "203.0.113.9"


async def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(
    make_app: AppFactory,
) -> None:
    body, headers = signed()
    spoofed = {**headers, "X-Forwarded-For": "203.0.113.9"}
    async with make_app(LOCKED, client_ip="127.0.0.1") as app:  # no proxy trusted (default)
        response = await app.client.post("/webhooks/locked", content=body, headers=spoofed)
        assert (response.status_code, response.json()["error"]) == (403, "ip_not_allowed")
    trusted = {"INGEST_TRUSTED_PROXIES": "10.0.0.0/8"}
    async with make_app(LOCKED, client_ip="10.1.2.3", environment=trusted) as app:
        # The client wrote the leftmost hop; the balancer appended the real one at the right.
        chain = {**headers, "X-Forwarded-For": "198.51.100.66, 203.0.113.9, 10.9.9.9"}
        response = await app.client.post("/webhooks/locked", content=body, headers=chain)
        assert response.status_code == 200, response.text
        body, headers = signed()
        lying = {**headers, "X-Forwarded-For": "203.0.113.9, 198.51.100.66"}
        response = await app.client.post("/webhooks/locked", content=body, headers=lying)
        assert response.status_code == 403
    async with make_app(LOCKED, client_ip="198.51.100.1", environment=trusted) as app:
        # Not from the proxy: its header means nothing.
        response = await app.client.post("/webhooks/locked", content=body, headers=spoofed)
        assert response.status_code == 403


def test_uvicorn_does_not_trust_forwarded_for_from_localhost(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvicorn's default trusts X-Forwarded-For from 127.0.0.1; a local sender could then claim
    any address an allowlist admits. `ingest serve` turns that off."""
    for name, value in support.SECRET_ENV.items():
        monkeypatch.setenv(name, value)
    document = {"sources": {**LOCKED}}
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump(document))
    env = {
        "DATABASE_URL": postgres_url,
        "INGEST_SOURCES_FILE": str(tmp_path / "sources.yaml"),
        "KAFKA_BOOTSTRAP_SERVERS": "",
        "INGEST_SINK_FILE": str(tmp_path / "events.jsonl"),
        **support.SECRET_ENV,
    }
    body, headers = signed()
    with support.running_server(env, tmp_path) as server:
        response = httpx.post(
            f"{server.url}/webhooks/locked",
            content=body,
            headers={**headers, "X-Forwarded-For": "203.0.113.9"},
        )
    assert (response.status_code, response.json()["error"]) == (403, "ip_not_allowed")


async def test_with_no_trusted_proxies_the_headers_change_nothing_even_from_localhost() -> None:
    forwarded = [("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-Proto", "https")]
    assert await seen_by_app(forwarded, peer="127.0.0.1", trusted="") == ("127.0.0.1", "http")


async def test_a_peer_outside_the_trusted_networks_keeps_its_own_address_and_scheme() -> None:
    forwarded = [("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-Proto", "https")]
    assert await seen_by_app(forwarded, peer="198.51.100.1") == ("198.51.100.1", "http")


@pytest.mark.parametrize(
    ("chain", "client"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("198.51.100.66, 203.0.113.9", "203.0.113.9"),
        ("198.51.100.66, 203.0.113.9, 10.9.9.9, 10.0.0.1", "203.0.113.9"),
        ("  203.0.113.9  ,10.0.0.1", "203.0.113.9"),
        ("203.0.113.9:51234", "203.0.113.9"),
        ("2001:db8:2::7", "2001:db8:2::7"),
        ("[2001:db8:2::7]:443", "2001:db8:2::7"),
        ("203.0.113.9, 2001:db8:1::5", "203.0.113.9"),
        ("garbage, 203.0.113.9", "203.0.113.9"),
    ],
    ids=[
        "one-hop",
        "client-written-hop-ignored",
        "trusted-hops-skipped",
        "whitespace",
        "ipv4-with-port",
        "bare-ipv6",
        "bracketed-ipv6-with-port",
        "trusted-ipv6-proxy-skipped",
        "garbage-left-of-the-answer",
    ],
)
async def test_behind_a_trusted_proxy_the_client_is_the_rightmost_untrusted_hop(
    chain: str, client: str
) -> None:
    assert await seen_by_app([("X-Forwarded-For", chain)]) == (client, "http")


async def test_a_trusted_ipv6_peer_is_believed_too() -> None:
    chain = [("X-Forwarded-For", "203.0.113.9")]
    assert await seen_by_app(chain, peer="2001:db8:1::1") == ("203.0.113.9", "http")


async def test_several_forwarded_for_lines_are_read_as_one_list_in_order() -> None:
    lines = [("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-For", "198.51.100.66, 10.0.0.9")]
    assert await seen_by_app(lines) == ("198.51.100.66", "http")


@pytest.mark.parametrize(
    "chain",
    [
        "",
        "garbage",
        "203.0.113.9, garbage",
        "203.0.113.9, not-an-ip, 10.0.0.1",
        "203.0.113.9,",
        "unknown",
        "203.0.113.999",
        "203.0.113.9;rm -rf",
    ],
    ids=[
        "empty",
        "garbage",
        "garbage-rightmost",
        "garbage-between",
        "trailing-comma",
        "obfuscated-identifier",
        "octet-out-of-range",
        "junk-suffix",
    ],
)
async def test_a_malformed_hop_right_of_any_answer_leaves_the_peer_as_the_client(
    chain: str,
) -> None:
    assert await seen_by_app([("X-Forwarded-For", chain)]) == ("10.1.2.3", "http")


async def test_a_chain_of_only_trusted_proxies_leaves_the_peer_as_the_client() -> None:
    chain = [("X-Forwarded-For", "10.0.0.5, 10.0.0.6")]
    assert await seen_by_app(chain) == ("10.1.2.3", "http")


async def test_no_forwarded_for_at_all_leaves_the_peer_as_the_client() -> None:
    assert await seen_by_app([]) == ("10.1.2.3", "http")


async def test_only_the_last_max_hops_are_read() -> None:
    trusted_hops = [f"10.0.0.{index}" for index in range(1, MAX_HOPS + 1)]
    chain = ", ".join(["203.0.113.9", *trusted_hops])  # the client is one hop too far left
    assert await seen_by_app([("X-Forwarded-For", chain)]) == ("10.1.2.3", "http")
    chain = ", ".join(["203.0.113.9", *trusted_hops[1:]])  # now it is within reach
    assert await seen_by_app([("X-Forwarded-For", chain)]) == ("203.0.113.9", "http")


async def test_the_client_is_written_in_the_canonical_form_of_its_address() -> None:
    chain = [("X-Forwarded-For", "2001:0DB8:0002:0000:0000:0000:0000:0007")]
    client, _ = await seen_by_app(chain)
    assert client == "2001:db8:2::7"
    assert ipaddress.ip_address(client) == ipaddress.ip_address("2001:db8:2::7")


@pytest.mark.parametrize(
    ("proto", "scheme"),
    [("https", "https"), ("HTTPS", "https"), (" http ", "http"), ("ftp", "http"), ("", "http")],
    ids=["https", "uppercase", "padded-http", "unknown-scheme", "empty"],
)
async def test_forwarded_proto_from_a_trusted_proxy_sets_only_http_or_https(
    proto: str, scheme: str
) -> None:
    assert await seen_by_app([("X-Forwarded-Proto", proto)]) == ("10.1.2.3", scheme)


async def test_a_request_without_a_peer_address_is_passed_on_unchanged() -> None:
    chain = [("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-Proto", "https")]
    assert await seen_by_app(chain, peer=None) == (None, "http")


async def test_the_callers_scope_is_not_modified() -> None:
    scope = http_scope(
        headers=[("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-Proto", "https")],
        client=("10.1.2.3", 43210),
    )
    before = copy.deepcopy(scope)
    endpoint = Recorder()
    await call(TrustedProxiesMiddleware(endpoint, parse_networks(PROXIES)), scope)
    assert scope == before
    assert endpoint.scopes[0]["client"] == ("203.0.113.9", 0)


async def test_a_lifespan_scope_passes_through_untouched() -> None:
    endpoint = Recorder()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    await call(TrustedProxiesMiddleware(endpoint, parse_networks(PROXIES)), scope)
    assert endpoint.scopes == [scope]
