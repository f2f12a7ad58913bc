"""No header trick widens a vendor's replay window.

Main accepted `Stripe-Signature: t =<now>,t=<old>,v1=<signature over old>` with a 30-day-old
signature: the tolerance was checked on one `t` (keys stripped) and the signature on another (the
SDK's exact key). For every vendor that signs a timestamp in a header, a request signed 30 days
ago is refused however its headers are dressed up: a fresh timestamp added before or after the old
one, as a duplicate key, with padding around the key or the value, in another letter case, or as
a second header value.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.handlers import HANDLERS
from ingest.handlers.base import RejectedRequestError, VendorHandler, Verification
from ingest.simulation import simulator
from ingest.simulation.base import SigningContext
from ingest.sources import SourceConfig
from tests import catalog
from tests.handlers.kit import URL, request

NOW = 1_800_000_000
OLD = NOW - 30 * 24 * 3600
HEADER_TIMESTAMPED = (
    "stripe",
    "standard-webhooks",
    "clerk",
    "openai",
    "anthropic",
    "r2",
    "slack",
    "sendgrid",
    "paypal",
    "generic-hmac",
)
"""Vendors whose signed timestamp travels in a header (body-timestamped schemes — Pusher, AWS SNS,
a JWT's `iat` — cannot be edited without breaking the signature over the body)."""
GENERIC_STRIPE_STYLE = {
    "header": "x-signature",
    "prefix": "v1=",
    "multiple_signatures_separator": ",",
    "timestamp_prefix": "t=",
    "signed_content": "{timestamp}.{body}",
}


def source_for(vendor: str, key_dir: Path) -> SourceConfig:
    overrides = GENERIC_STRIPE_STYLE if vendor == "generic-hmac" else {}
    return catalog.source_config(vendor, key_dir, name=vendor, **overrides)


def signed(
    handler: VendorHandler, source: SourceConfig, body: bytes, when: int, key_dir: Path
) -> dict[str, str]:
    secret = source.secrets[0] if source.secrets else None
    context = SigningContext(source=source, url=URL, secret=secret, key_dir=key_dir)
    return {k.lower(): v for k, v in simulator(handler).sign(body, context, when).headers.items()}


def documents(
    handler: VendorHandler, source: SourceConfig, headers: dict[str, str], body: bytes
) -> dict[str, bytes]:
    pinned = handler.pinned_documents(source)
    return {
        url: Path(pinned[url]).read_bytes()
        for url in handler.documents(request(body, headers))
        if url in pinned
    }


def dressed(old: dict[str, str], fresh: dict[str, str]) -> Iterator[dict[str, str]]:
    """Every way we know of to smuggle the fresh timestamp next to the old signature."""
    for name, value in old.items():
        new = fresh.get(name, value)
        if value == new:
            continue
        stale, current = str(OLD), str(NOW)
        if stale in value:
            for pad_key, pad_value in (("", ""), (" ", ""), ("", " "), ("\t", " ")):
                for key_text in _keys_before(value, stale):
                    padded = f"{key_text}{pad_key}={pad_value}{current}"
                    yield {**old, name: f"{padded},{value}"}
                    yield {**old, name: f"{value},{padded}"}
                    yield {**old, name: f"{padded.upper()},{value}"}
            yield {**old, name: value.replace(stale, current)}
            yield {**old, name: f"{current},{value}"}
            yield {**old, name: f"{value},{current}"}
            yield {**old, name: f" {current} "}
            yield {**old, name: f"{current} {stale}"}
        yield {**old, name: f"{new},{value}"}
        yield {**old, name: f"{value},{new}"}
        yield {**old, name: new}


def _keys_before(value: str, stale: str) -> list[str]:
    """`t` in `t=1700…`: the key naming the stale timestamp in a k=v list, if any."""
    keys = []
    for item in value.split(","):
        key, sep, rest = item.partition("=")
        if sep and rest.strip().startswith(stale):
            keys.append(key.strip())
    return keys


@pytest.fixture(scope="module")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.mark.parametrize("vendor", HEADER_TIMESTAMPED)
def test_an_old_signature_stays_old_whatever_the_headers_say(vendor: str, key_dir: Path) -> None:
    handler = HANDLERS[vendor]
    source = source_for(vendor, key_dir)
    body = simulator(handler).sample(None)
    fresh = signed(handler, source, body, NOW, key_dir)
    old = signed(handler, source, body, OLD, key_dir)
    # The test can fail: the fresh request verifies, the old one alone does not.
    handler.verify(
        Verification(request(body, fresh), source, NOW, documents(handler, source, fresh, body))
    )
    with pytest.raises(RejectedRequestError):
        handler.verify(
            Verification(request(body, old), source, NOW, documents(handler, source, old, body))
        )
    tried = 0
    for headers in dressed(old, fresh):
        if headers == fresh:
            continue
        tried += 1
        try:
            verdict = handler.verify(
                Verification(
                    request(body, headers), source, NOW, documents(handler, source, headers, body)
                )
            )
        except RejectedRequestError:
            continue
        # Accepted: only fine if what it verified is the fresh signature and timestamp.
        assert verdict.signed_at is not None
        assert abs(verdict.signed_at - NOW) <= (source.tolerance_seconds or 300), (vendor, headers)
    assert tried > 0


def test_stripe_reads_the_timestamp_as_its_sdk_does(key_dir: Path) -> None:
    """The exact header from the finding: refused (it was accepted on main)."""
    handler = HANDLERS["stripe"]
    source = source_for("stripe", key_dir)
    body = simulator(handler).sample(None)
    old = signed(handler, source, body, OLD, key_dir)["stripe-signature"]
    attack = {"stripe-signature": f"t ={NOW},{old}"}
    with pytest.raises(RejectedRequestError) as refused:
        handler.verify(Verification(request(body, attack), source, NOW, {}))
    assert refused.value.code == "timestamp_out_of_tolerance"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["t", "t ", " t", "T", "v1", "v0", "x"]),
            st.sampled_from(["", " "]),
            st.integers(min_value=0, max_value=2_000_000_000),
        ),
        max_size=5,
    )
)
def test_stripe_timestamp_parsing_matches_the_sdk(items: list[tuple[str, str, int]]) -> None:
    import stripe  # noqa: PLC0415 - only this test compares against the SDK's private parser

    from ingest.handlers.stripe import _signed_at  # noqa: PLC0415

    header = ",".join(f"{k}={pad}{v}" for k, pad, v in items) + ",v1=abc"
    try:
        expected: int | None = stripe.WebhookSignature._get_timestamp_and_signatures(header, "v1")[
            0
        ]
    except (IndexError, ValueError):
        expected = None
    try:
        actual: int | None = _signed_at(header)
    except RejectedRequestError:
        actual = None
    assert actual == expected
