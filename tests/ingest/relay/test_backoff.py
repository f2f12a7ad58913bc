"""Backoff stays finite and capped however long an outage lasts."""

from __future__ import annotations

import pytest

from ingest.relay import Backoff


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    backoff = Backoff(initial=0.5, maximum=10)
    assert 0.25 <= backoff.delay(1) <= 0.5
    assert 2 <= backoff.delay(4) <= 4
    assert all(5 <= backoff.delay(50) <= 10 for _ in range(100))
    assert len({backoff.delay(3) for _ in range(20)}) > 1


@pytest.mark.parametrize("failures", [1_024, 1_025, 1_100, 10**6, 10**12])
def test_backoff_does_not_overflow_after_a_long_outage(failures: int) -> None:
    """`2 ** failures` as a float overflows at 1,025: the relay died there on main."""
    assert 15 <= Backoff(initial=0.5, maximum=30).delay(failures) <= 30


def test_the_default_ceiling_is_thirty_seconds() -> None:
    assert Backoff().ceiling(10**9) == 30


def test_a_backoff_that_cannot_back_off_is_refused() -> None:
    with pytest.raises(ValueError, match="initial"):
        Backoff(initial=0, maximum=1)
    with pytest.raises(ValueError, match="initial"):
        Backoff(initial=5, maximum=1)
