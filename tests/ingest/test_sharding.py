"""Shard assignment is stored in the outbox and shared by every relay: it must never change."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from ingest.sharding import key_hash, shard_of


def test_pinned_hashes_never_change_across_releases() -> None:
    """Every relay, of any version, must put a key in the same shard as the row says."""
    assert key_hash("") == 0x1271_CF25
    assert key_hash("pi_123") == 0x07F9_9AE3
    assert [shard_of(key, 8) for key in ("pi_123", "o/r#1", "")] == [3, 4, 5]


@given(key=st.text(), shards=st.integers(min_value=1, max_value=1024))
def test_any_key_even_a_lone_surrogate_has_a_shard_in_range(key: str, shards: int) -> None:
    assert 0 <= shard_of(key, shards) < shards
    assert 0 <= key_hash(key) < 2**32


def test_keys_spread_over_the_shards() -> None:
    counts = Counter(shard_of(f"key-{n}", 4) for n in range(4000))
    assert set(counts) == {0, 1, 2, 3}
    assert min(counts.values()) > 800  # 1,000 each if perfectly even
