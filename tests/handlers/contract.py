"""Checks every vendor handler must pass: malformed input only ever raises our rejection errors."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from ingest.handlers.base import RejectedRequestError, VendorHandler, Verification
from ingest.sources import SourceConfig
from tests.handlers.kit import request

HOSTILE_VALUES = [
    "",
    " ",
    "v1abc",
    "v1,@@@",
    "v1,",
    ",",
    "t=,v1=",
    "t=abc,v1=def",
    "t=1e10,v1=00",
    "sha256=",
    "sha256=zz",
    "sha256=é",
    "v1=é,t=1",
    "é" * 10,
    "\x00\x01",
    "a" * 10_000,
    "v1,dGVzdA== v1,@@@ v2,abc",
    "=" * 50,
]


def assert_only_rejections(
    handler: VendorHandler,
    source: SourceConfig,
    body: bytes,
    headers: Mapping[str, str],
    now: float,
) -> None:
    with pytest.raises(RejectedRequestError) as caught:
        handler.verify(Verification(request(body, headers), source, now, {}))
    assert caught.value.status in (400, 401)
    assert caught.value.code in {
        "invalid_signature",
        "missing_signature",
        "timestamp_out_of_tolerance",
        "malformed_request",
        "missing_credentials",
        "invalid_credentials",
    }
