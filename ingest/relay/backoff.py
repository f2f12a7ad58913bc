"""Capped exponential backoff with jitter, safe however long an outage lasts."""

from __future__ import annotations

import random
from dataclasses import dataclass

MAX_EXPONENT = 16
"""2**16 times any sane initial delay is past every ceiling; capping the exponent keeps the float
arithmetic finite after thousands of failures (an uncapped `2 ** failures` overflows at ~1,025)."""


@dataclass(frozen=True)
class Backoff:
    initial: float = 0.5
    maximum: float = 30.0

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum:
            raise ValueError("backoff needs 0 < initial <= maximum")

    def ceiling(self, failures: int) -> float:
        exponent = min(max(failures - 1, 0), MAX_EXPONENT)
        return min(self.maximum, self.initial * 2.0**exponent)

    def delay(self, failures: int) -> float:
        """ "Equal jitter": between half the ceiling and the ceiling, so reconnecting relays
        spread apart yet never retry in a tight loop."""
        ceiling = self.ceiling(failures)
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography
