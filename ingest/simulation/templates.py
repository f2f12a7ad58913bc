"""Sample bodies as data: `samples/<vendor>.json` holds, per event type, the body the vendor
documents, with placeholders where each request needs a fresh value.

A placeholder is `{{kind}}` or `{{kindN:label}}`:

- times, from the clock of the request: `now_unix` and `now_ms` (numbers), `now_iso`
  (`2026-12-02T05:00:00Z`), `now_iso_ms` (`….000Z`), `now_iso_offset` (`…+00:00`), `now_date`
  (`2026-12-02`), `now_email` (RFC 5322: `Wed, 02 Dec 2026 05:00:00 +0000`); a signed offset
  in seconds (milliseconds for `now_ms`) shifts them: `{{now_unix+2592000}}` is in 30 days;
- random values of N characters: `hex`, `upperhex`, `digits`, `upper` (A to Z, 0 to 9), `lower`,
  `alnum`, `word` (and `_`), `urlsafe` (and `-`, `_`); `uuid`; `intN`, a number of N digits.
  The same `kindN:label` stands for the same value everywhere in one body (an order id in the
  order and in its URL).

A placeholder that is a whole JSON string keeps its type (`"{{now_unix}}"` renders as a number);
inside a longer string it is written as text. `{"$json": …}` renders as that value's JSON text
(SNS's `Message`), `{"$base64json": …}` as its base64 (Pub/Sub's `data`), and a body
`{"$form": {…}}` is form-encoded (Twilio, Slack commands) instead of written as JSON.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import secrets
import string
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any
from urllib.parse import urlencode

PLACEHOLDER = re.compile(
    r"\{\{(?P<kind>[a-z_]+?)(?P<size>\d*)(?::(?P<label>[a-z0-9_]+))?(?P<offset>[+-]\d+)?\}\}"
)
ALPHABETS: Mapping[str, str] = {
    "hex": "0123456789abcdef",
    "upperhex": "0123456789ABCDEF",
    "digits": string.digits,
    "upper": string.ascii_uppercase + string.digits,
    "lower": string.ascii_lowercase + string.digits,
    "alnum": string.ascii_letters + string.digits,
    "word": string.ascii_letters + string.digits + "_",
    "urlsafe": string.ascii_letters + string.digits + "-_",
}
TIMES: Mapping[str, Callable[[float, int], str | int]] = {
    "now_unix": lambda now, offset: int(now) + offset,
    "now_ms": lambda now, offset: int(now * 1000) + offset,
    "now_iso": lambda now, offset: _utc(int(now) + offset).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "now_iso_ms": lambda now, offset: (
        _utc(now + offset).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    ),
    "now_iso_offset": lambda now, offset: _utc(int(now) + offset).isoformat(),
    "now_date": lambda now, offset: _utc(now + offset).strftime("%Y-%m-%d"),
    "now_email": lambda now, offset: format_datetime(_utc(int(now) + offset)),
}


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


SAMPLES: Traversable = resources.files("ingest.simulation") / "samples"
"""Installed with the package (`ingest send` reads them from site-packages, not a checkout)."""


@functools.cache
def samples(vendor: str) -> Mapping[str, Any]:
    """Event type → template, in the file's order; empty for a vendor without a file."""
    path = SAMPLES / f"{vendor}.json"
    if not path.is_file():
        return {}
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


class Fresh:
    """The fresh values of one body: drawn once per `kindN:label`, so they agree within it."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.drawn: dict[str, str | int] = {}

    def value(self, placeholder: re.Match[str]) -> str | int:
        kind, size, label = placeholder["kind"], placeholder["size"], placeholder["label"]
        offset = int(placeholder["offset"] or 0)
        if kind in TIMES:
            return TIMES[kind](self.now, offset)
        key = f"{kind}{size}:{label}"
        if key not in self.drawn:
            self.drawn[key] = self._draw(kind, int(size or 0))
        return self.drawn[key]

    @staticmethod
    def _draw(kind: str, size: int) -> str | int:
        if kind == "uuid":
            return str(uuid.uuid4())
        if kind == "int":
            smallest: int = 10 ** (size - 1)
            return smallest + secrets.randbelow(9 * smallest)
        alphabet = ALPHABETS.get(kind)
        if alphabet is None or size < 1:
            raise ValueError(f"unknown placeholder kind {kind!r}")
        return "".join(secrets.choice(alphabet) for _ in range(size))


def render(template: Any, fresh: Fresh) -> Any:  # noqa: PLR0911 - one return per JSON kind
    """The template with every placeholder filled and every `$json`/`$base64json` encoded."""
    if isinstance(template, dict):
        if template.keys() == {"$json"}:
            return json.dumps(render(template["$json"], fresh))
        if template.keys() == {"$base64json"}:
            encoded = json.dumps(render(template["$base64json"], fresh)).encode()
            return base64.b64encode(encoded).decode("ascii")
        return {key: render(value, fresh) for key, value in template.items()}
    if isinstance(template, list):
        return [render(item, fresh) for item in template]
    if isinstance(template, str):
        whole = PLACEHOLDER.fullmatch(template)
        if whole is not None:
            return fresh.value(whole)
        return PLACEHOLDER.sub(lambda match: str(fresh.value(match)), template)
    return template


def body(template: Any, now: float) -> bytes:
    """The request body a template stands for, at `now`."""
    fresh = Fresh(now)
    if isinstance(template, dict) and template.keys() == {"$form"}:
        return urlencode(render(template["$form"], fresh)).encode()
    return json.dumps(render(template, fresh), indent=2).encode()
