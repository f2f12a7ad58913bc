"""ingest/relay/states.py: the names and the ranking of what a relay shard is doing.

The values are a contract: they are written to `relay_shards.state`, and `/readyz` (in any
process) compares them as strings, so renaming one silently breaks health reporting. `SEVERITY`
decides which shard's state a relay reports as its own; a state missing from it would crash the
relay's state refresh, and an outage ranked below a working state would hide it. `ShardStatus`
is the mutable record each worker keeps; two workers must never share its counters or held
topics."""

from __future__ import annotations

import pytest

from ingest.relay.states import DOWN_STATES, SEVERITY, RelayState, ShardStatus


def test_the_state_names_are_the_strings_readyz_and_the_database_use() -> None:
    assert {state.value for state in RelayState} == {
        "starting",
        "standby",
        "healthy",
        "idle",
        "sink_down",
        "database_down",
        "stopped",
    }
    # A StrEnum: it reads back from the stored string and formats as that string.
    assert RelayState("sink_down") is RelayState.SINK_DOWN
    assert f"{RelayState.HEALTHY}" == "healthy"


def test_every_state_has_a_severity() -> None:
    assert set(SEVERITY) == set(RelayState)


def test_the_down_states_are_exactly_the_two_outages() -> None:
    assert {RelayState.SINK_DOWN, RelayState.DATABASE_DOWN} == DOWN_STATES


@pytest.mark.parametrize("down", sorted(DOWN_STATES))
def test_an_outage_outranks_every_state_that_is_not_one(down: RelayState) -> None:
    """A relay with one broken shard among healthy ones must report the outage."""
    for other in set(RelayState) - DOWN_STATES:
        assert SEVERITY[down] > SEVERITY[other], other


def test_a_database_outage_outranks_a_sink_outage() -> None:
    """Without the database nothing can be read, so it is the cause worth reporting."""
    assert SEVERITY[RelayState.DATABASE_DOWN] > SEVERITY[RelayState.SINK_DOWN]


def test_a_publishing_shard_outranks_an_idle_one_and_starting_outranks_both() -> None:
    assert (
        SEVERITY[RelayState.STARTING]
        > SEVERITY[RelayState.HEALTHY]
        > SEVERITY[RelayState.IDLE]
        > SEVERITY[RelayState.STANDBY]
    )


def test_the_worst_of_a_mix_of_shard_states_is_the_outage() -> None:
    """How the relay picks its own state: max by severity, as `Relay._refresh_state` does."""
    mix = [RelayState.IDLE, RelayState.HEALTHY, RelayState.SINK_DOWN, RelayState.STARTING]
    assert max(mix, key=SEVERITY.__getitem__) is RelayState.SINK_DOWN


def test_a_new_shard_status_starts_with_nothing_done() -> None:
    status = ShardStatus(3)
    assert status.shard == 3
    assert status.state is RelayState.STARTING
    assert (status.error, status.cause, status.progress_at) == (None, None, None)
    assert (status.published, status.parked, status.recovered) == (0, 0, 0)
    assert status.held_topics == {}


def test_two_shard_statuses_never_share_their_held_topics() -> None:
    first, second = ShardStatus(0), ShardStatus(1)
    first.held_topics["orders"] = "topic 'orders' does not exist on the cluster"
    first.published += 5
    assert second.held_topics == {}
    assert second.published == 0
