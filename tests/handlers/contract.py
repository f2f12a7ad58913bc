"""Checks every vendor handler must pass: malformed input only ever raises our rejection errors."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

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


# -- values a vendor never sends, in bodies shaped as it sends them ---------------------------

POISONS = ("\x00", "\ud800", "x" * 300, "x" * 300 + "\ud800")
"""What no vendor sends but JSON can carry: NUL, a lone surrogate (UTF-8 cannot encode it), a
value longer than any column, and both of the last two."""


def with_one_string_poisoned(document: Any, poison: str) -> Iterator[Any]:
    """Copies of `document`, each with one of its strings (a value, or an object's key) ending
    in `poison`; a string that is itself JSON (SNS's `Message`) also has each of its own strings
    poisoned in turn."""
    if isinstance(document, str):
        yield document + poison
        if document[:1] in ("{", "["):
            with contextlib.suppress(ValueError):
                inner = json.loads(document)
                for poisoned in with_one_string_poisoned(inner, poison):
                    yield json.dumps(poisoned)
    elif isinstance(document, dict):
        for name, value in document.items():
            yield {(key + poison if key == name else key): v for key, v in document.items()}
            for poisoned in with_one_string_poisoned(value, poison):
                yield {**document, name: poisoned}
    elif isinstance(document, list):
        for index, value in enumerate(document):
            for poisoned in with_one_string_poisoned(value, poison):
                yield [*document[:index], poisoned, *document[index + 1 :]]


def bodies_with_one_value_poisoned(body: bytes, poison: str) -> Iterator[bytes]:
    """A JSON body with one string poisoned at a time; a form body (Twilio, Slack commands)
    with one field's value poisoned at a time, percent-encoded as a sender would."""
    try:
        document = json.loads(body)
    except ValueError:
        fields = parse_qsl(body.decode(), keep_blank_values=True)
        for index, (name, value) in enumerate(fields):
            poisoned = [*fields[:index], (name, value + poison), *fields[index + 1 :]]
            yield urlencode(poisoned, errors="surrogatepass").encode()
        return
    for poisoned in with_one_string_poisoned(document, poison):
        yield json.dumps(poisoned).encode()
