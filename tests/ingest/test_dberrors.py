"""Outage or refusal: only an outage may become a 503 (the vendor retries it, and a row refused
for its content would be refused on every retry, forever)."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc

from ingest.dberrors import is_outage, sqlstate


class _Driver(Exception):
    def __init__(self, state: str) -> None:
        super().__init__(state)
        self.sqlstate = state


def _wrapped(state: str) -> sa_exc.DBAPIError:
    """How SQLAlchemy hands a driver error up: `orig` is the driver's, `__cause__` asyncpg's."""
    return sa_exc.DBAPIError("INSERT …", {}, _Driver(state))


@pytest.mark.parametrize(
    "state",
    ["08006", "08001", "53100", "53300", "57014", "57P01", "58030"],
)
def test_connection_resources_shutdown_and_system_errors_are_outages(state: str) -> None:
    assert sqlstate(_wrapped(state)) == state
    assert is_outage(_wrapped(state))


@pytest.mark.parametrize(
    "state",
    ["22021", "22P05", "23505", "23502", "22001", "42P01"],
)
def test_content_refusals_are_not_outages(state: str) -> None:
    """Bad UTF-8, NUL bytes, a duplicate key, a NOT NULL, a too-long value, a missing table:
    retrying the same row changes nothing."""
    assert not is_outage(_wrapped(state))


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(),
        TimeoutError(),
        sa_exc.TimeoutError(),
        asyncpg.InterfaceError("connection is closed"),
        asyncpg.exceptions.InternalClientError(),
    ],
)
def test_errors_that_never_reached_the_server_are_outages(error: BaseException) -> None:
    assert is_outage(error)


def test_an_invalidated_connection_is_an_outage_whatever_its_state() -> None:
    error = _wrapped("22021")
    error.connection_invalidated = True
    assert is_outage(error)


def test_an_error_without_a_state_is_not_an_outage() -> None:
    assert sqlstate(ValueError("x")) is None
    assert not is_outage(ValueError("x"))
