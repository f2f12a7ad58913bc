"""Who a verified delivery is: the handler's identity made storable, or a deterministic
fallback (the vendor's header id, else a digest of the body) — never a refusal for its shape."""

from __future__ import annotations

import pytest

from ingest.handlers import HANDLERS
from ingest.handlers.base import WireError
from ingest.identity import (
    MAX_TYPE_LENGTH,
    UNKNOWN_TYPE,
    clean_type,
    content_id,
    identify,
    storable_id,
)
from ingest.sources import SourceConfig
from tests.handlers.kit import request

STRIPE = SourceConfig(name="stripe", vendor="stripe", secrets=("whsec_x",))
GITHUB = SourceConfig(name="github", vendor="github", secrets=("x",))


def test_a_body_the_handler_cannot_identify_gets_its_digest_and_the_unknown_type() -> None:
    body = b'{"test": 2432232314}'
    identified = identify(HANDLERS["stripe"], request(body, {}), STRIPE)
    assert identified.unexpected
    assert identified.identity.event_id == content_id(body)
    assert identified.identity.event_type == UNKNOWN_TYPE
    again = identify(HANDLERS["stripe"], request(body, {}), STRIPE)
    assert again.identity == identified.identity, "a redelivery maps to the same row"


def test_the_vendors_header_id_is_the_fallback_where_it_has_one() -> None:
    headers = {"x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958", "x-github-event": "x"}
    identified = identify(HANDLERS["github"], request(b"not json", headers), GITHUB)
    assert identified.identity.event_id == "72d3162e-cc78-11e3-81ab-4c9367dc0958"


def test_what_the_vendor_sends_wrong_on_the_wire_is_still_refused() -> None:
    with pytest.raises(WireError):
        identify(HANDLERS["github"], request(b"{}", {"x-github-event": "push"}), GITHUB)


@pytest.mark.parametrize("value", ["", "  ", "a\x00b", "\ud800", "x" * 256])
def test_an_unstorable_id_is_not_used(value: str) -> None:
    assert storable_id(value) is None


def test_types_are_cleaned_and_bounded_without_collisions() -> None:
    assert clean_type("pay\x00ment") == "pay\ufffdment"
    assert clean_type("\x01") == "\ufffd"
    assert clean_type("   ") == UNKNOWN_TYPE
    first, second = clean_type("a" * 70_000), clean_type("a" * 69_999 + "b")
    assert len(first) == len(second) == MAX_TYPE_LENGTH
    assert first != second
