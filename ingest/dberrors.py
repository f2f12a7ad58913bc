"""Is a database error an outage (retry later, it will work) or a refusal of the content?

Only an outage may become a 503: a vendor retries a 503, and a row the database refuses for what
it contains would be refused again on every retry, forever. PostgreSQL says which it is in the
SQLSTATE class: 08 connection, 53 insufficient resources, 57 operator intervention (shutdown,
statement timeout), 58 system error; network errors and timeouts never reach the server at all.
"""

from __future__ import annotations

import asyncpg
from sqlalchemy import exc as sa_exc

OUTAGE_STATE_CLASSES = frozenset({"08", "53", "57", "58"})
OUTAGE_TYPES: tuple[type[BaseException], ...] = (
    OSError,  # ConnectionRefusedError & co.
    TimeoutError,
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # the pool had no connection in time
    asyncpg.InterfaceError,  # "connection is closed" (the group-commit writers use asyncpg)
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.InternalClientError,  # a connection left mid-protocol by a server crash
)


DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.SQLAlchemyError,
    asyncpg.PostgresError,  # the group-commit writers talk to asyncpg directly
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    OSError,
    TimeoutError,
)
"""Everything talking to the database can raise; `is_outage` sorts them."""


def sqlstate(exc: BaseException) -> str | None:
    original = getattr(exc, "orig", None)
    for candidate in (exc, original, getattr(original, "__cause__", None)):
        state = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(state, str):
            return state
    return None


def is_outage(exc: BaseException) -> bool:
    if isinstance(exc, OUTAGE_TYPES):
        return True
    if getattr(exc, "connection_invalidated", False):
        return True
    state = sqlstate(exc)
    return state is not None and state[:2] in OUTAGE_STATE_CLASSES
