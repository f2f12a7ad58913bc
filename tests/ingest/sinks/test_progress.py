"""ingest/sinks/progress.py: the progress marker each Kafka transaction writes about itself.

A marker is what a new holder of a shard trusts to know which records are in Kafka already, so
its encoding must give back exactly the ids written (any set of ids, in any order, duplicates
included), stay small for runs of ids, and refuse what it cannot read in a way the recovery scan
skips (ValueError, KeyError or TypeError, see `TransactionalPublisher._scan_back`). The scan picks
the newest of several markers by comparing `written_at` as strings, so those strings must sort
in the order the markers were written."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typing_extensions import override

from ingest.sinks import progress
from ingest.sinks.progress import MARKER_VERSION, Marker, from_ranges, to_ranges

ids_lists = st.lists(st.integers(min_value=1, max_value=10**12), max_size=200)


def test_runs_of_ids_become_ranges() -> None:
    assert to_ranges([1, 2, 3, 7, 9, 10]) == [[1, 3], [7, 7], [9, 10]]
    assert to_ranges([]) == []


def test_unsorted_and_repeated_ids_make_the_same_ranges_as_sorted_ones() -> None:
    assert to_ranges([10, 3, 2, 9, 1, 3, 7, 2]) == [[1, 3], [7, 7], [9, 10]]


@given(ids_lists)
def test_ranges_give_back_exactly_the_set_of_ids(ids: list[int]) -> None:
    assert from_ranges(to_ranges(ids)) == sorted(set(ids))


def test_a_long_run_of_ids_stays_one_small_range() -> None:
    marker = Marker.build(0, range(1, 100_001), "relay-a")
    assert json.loads(marker.to_bytes())["ids"] == [[1, 100_000]]
    assert len(marker.to_bytes()) < 200


@pytest.mark.parametrize("ranges", [[[5, 4]], [[1, 10_000_002]]])
def test_a_backwards_or_absurdly_long_range_is_refused(ranges: list[list[int]]) -> None:
    with pytest.raises(ValueError, match="malformed id range"):
        from_ranges(ranges)


def test_a_marker_holds_its_ids_sorted_and_once() -> None:
    marker = Marker.build(2, [5, 3, 5, 4, 1], "host:1:abc")
    assert marker.ids == (1, 3, 4, 5)
    assert (marker.shard, marker.holder) == (2, "host:1:abc")


@given(st.integers(min_value=0, max_value=1024), ids_lists, st.text(max_size=40))
def test_a_marker_reads_back_as_it_was_written(shard: int, ids: list[int], holder: str) -> None:
    marker = Marker.build(shard, ids, holder)
    assert Marker.parse(marker.to_bytes()) == marker


def test_the_encoded_marker_names_its_version_and_a_utc_time() -> None:
    document = json.loads(Marker.build(0, [1], "h").to_bytes())
    assert document["v"] == MARKER_VERSION
    assert document["at"].endswith("Z")
    written = datetime.fromisoformat(document["at"].replace("Z", "+00:00"))
    assert abs(datetime.now(UTC) - written) < timedelta(seconds=5)


def test_a_marker_without_holder_or_time_still_names_its_ids() -> None:
    """Only the ids matter for recovery; the rest is for people reading the topic."""
    marker = Marker.parse(b'{"v":1,"shard":4,"ids":[[7,9]]}')
    assert (marker.shard, marker.ids, marker.holder, marker.written_at) == (4, (7, 8, 9), "", "")


@pytest.mark.parametrize(
    "raw",
    [
        b"not json at all",
        b'["v", 1]',
        b'{"v":2,"shard":0,"ids":[]}',
        b'{"shard":0,"ids":[]}',
        b'{"v":1,"ids":[[1,2]]}',
        b'{"v":1,"shard":0}',
        b'{"v":1,"shard":0,"ids":5}',
        b'{"v":1,"shard":"zero","ids":[]}',
        b'{"v":1,"shard":0,"ids":[[3,1]]}',
    ],
)
def test_a_damaged_or_foreign_marker_raises_only_what_the_recovery_scan_skips(raw: bytes) -> None:
    with pytest.raises((ValueError, KeyError, TypeError)):
        Marker.parse(raw)


class _FixedClock(datetime):
    """`datetime` whose `now` answers the instant the test sets: the only way to make a marker
    written at a whole second, which real time does about once in a million markers."""

    instant = datetime(2026, 12, 2, 7, 0, 0, tzinfo=UTC)

    @classmethod
    @override
    def now(cls, tz: object = None) -> _FixedClock:
        moment = cls.instant
        return cls(
            moment.year,
            moment.month,
            moment.day,
            moment.hour,
            moment.minute,
            moment.second,
            moment.microsecond,
            tzinfo=moment.tzinfo,
        )


def test_marker_times_sort_as_strings_in_the_order_they_were_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The recovery scan keeps the marker with the greatest `written_at` string. A time on a
    whole second used to be written without its fraction ("…07:00:00Z"), which sorts after
    "…07:00:00.500000Z" although it is half a second older."""
    monkeypatch.setattr(progress, "datetime", _FixedClock)
    written = []
    for microsecond in (0, 1, 500_000, 999_999):
        _FixedClock.instant = datetime(2026, 12, 2, 7, 0, 0, microsecond, tzinfo=UTC)
        written.append(Marker.build(0, [1], "h").written_at)
    _FixedClock.instant = datetime(2026, 12, 2, 7, 0, 1, tzinfo=UTC)
    written.append(Marker.build(0, [1], "h").written_at)
    assert written == sorted(written)
    assert len(set(written)) == len(written)
