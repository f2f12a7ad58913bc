"""Which request headers the inbox stores blanked: credentials, never signatures.

Pure and dependency-free, so vendor handlers can check at start-up that a header they take a
credential in will be blanked (a token scheme's custom header), without importing the service.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence

REDACTED = "[redacted]"
SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "x-webhook-secret"}
)
MIN_SECRET_LENGTH = 4
PREFIX = re.compile(r"^[A-Za-z]{2,8}_(?=.{8,})")
"""A vendor's prefix on a secret (`whsec_`, `sk_`): the rest alone is as secret as the whole."""


def is_redacted_name(name: str) -> bool:
    """A header blanked by its name alone, whatever its value."""
    lowered = name.lower()
    return lowered in SENSITIVE_HEADERS or "secret" in lowered or "token" in lowered


def secret_variants(values: Iterable[str]) -> tuple[str, ...]:
    """Lower-cased forms of configured secrets to look for in header values: each value, and
    each without its vendor prefix, so `WHSEC_…` or the bare key are caught as well."""
    found: set[str] = set()
    for value in values:
        if len(value) < MIN_SECRET_LENGTH:
            continue
        found.add(value.lower())
        if (match := PREFIX.match(value)) is not None:
            found.add(value[match.end() :].lower())
    return tuple(sorted(found, key=len, reverse=True))


def redact_headers(
    headers: Mapping[str, str],
    *,
    secrets: Sequence[str] = (),
    names: Collection[str] = (),
) -> dict[str, str]:
    """Headers as stored in the inbox: credentials blanked, signatures kept for re-verification.

    Blanked: the usual credential headers, any name like a secret or token, `names` (headers a
    source takes a credential in), and any header whose value carries one of `secrets` (see
    `secret_variants`: every source's, in any letter case, with or without its prefix)."""
    extra = {name.lower() for name in names}
    return {
        name: REDACTED
        if is_redacted_name(name)
        or name.lower() in extra
        or any(secret in value.lower() for secret in secrets)
        else value
        for name, value in headers.items()
    }
