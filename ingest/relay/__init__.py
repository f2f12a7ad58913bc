"""The relay: the outbox's records into the sink (Kafka), exactly once with transactions."""

from ingest.relay.backoff import Backoff
from ingest.relay.relay import Relay, RelayConfig
from ingest.relay.states import RelayState, ShardStatus

__all__ = ["Backoff", "Relay", "RelayConfig", "RelayState", "ShardStatus"]
