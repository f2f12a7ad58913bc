"""`ingest.clock`: the one "now" the database layer stores is timezone-aware UTC.

A naive local time stored by one process and compared with another's aware one raises, or is
off by the machine's UTC offset; `tables.UtcDateTime` refuses naive values, so this must never
return one.
"""

from __future__ import annotations

import time
from datetime import UTC

from ingest.clock import utcnow


def test_now_is_aware_utc_and_the_real_time() -> None:
    now = utcnow()
    assert now.tzinfo is UTC
    assert abs(now.timestamp() - time.time()) < 5
