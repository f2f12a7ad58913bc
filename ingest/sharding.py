"""Which relay shard a record belongs to: a stable hash of its Kafka key.

Stable across processes, machines and Python versions (unlike `hash()`), because it is stored in
the outbox and every relay must agree on it: one key, one shard, one publisher at a time.
"""

from __future__ import annotations

import hashlib


def key_hash(key: str) -> int:
    """An unsigned 32-bit hash of the record key."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=4).digest()
    return int.from_bytes(digest, "big")


def shard_of(key: str, shards: int) -> int:
    return key_hash(key) % shards
