"""The gauges' queries on both engines: queue depth, oldest pending age, the wait for a
worker (due and not leased), and pending callbacks from a watermark."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import insert

from kassagate.storage.db import open_database
from kassagate.storage.metrics import WATERMARK_MARGIN, callback_stats, queue_stats
from kassagate.storage.schema import callbacks, requests

S = 1_000_000  # microseconds


def request(accepted_at: int, **kw: Any) -> dict[str, Any]:
    return {
        "nuid": f"{secrets.randbelow(10**23):023d}", "qnuid": f"{secrets.randbelow(10**23):023d}", "mode": "kassa",
        "kassaid": "1", "receipt": "{}", "receipt_hash": "0" * 64, "check_type": 1, "debug": False,
        "accepted_at": accepted_at, "status": 0, "next_attempt_at": accepted_at, "lease_owner": None,
        "lease_until": None, **kw,
    }


async def test_queue_and_callback_gauges(database_url: str) -> None:
    db = await open_database(database_url)
    try:
        now = 10_000 * S
        assert await queue_stats(db, now) == type(await queue_stats(db, now))(0, 0.0, 0.0)
        rows = [
            request(now - 100 * S, status=1),  # fiscalized: not counted
            request(now - 50 * S, next_attempt_at=now + 30 * S),  # waiting for its retry
            request(now - 20 * S, lease_owner="w", lease_until=now + 10 * S),  # being processed
            request(now - 8 * S),  # due, no lease: waiting for a worker for 8 s
            request(now - 9 * S, next_attempt_at=now - 5 * S, lease_owner="w", lease_until=now - 1),  # lease expired
        ]
        async with db.write_connection() as conn:
            await conn.execute(insert(requests), rows)
        q = await queue_stats(db, now)
        assert q.depth == 4 and q.oldest_pending_age == 50.0 and q.lag == 8.0

        async with db.write_connection() as conn:
            await conn.execute(insert(callbacks), [
                {"request_id": i + 1, "kassaid": "1", "url": "http://x", "next_attempt_at": 0, "created_at": 0,
                 "delivered_at": None, "gave_up_at": None, **state}
                for i, state in enumerate([{"delivered_at": 1}, {}, {"gave_up_at": 1}, {}])
            ])
        cb = await callback_stats(db)
        assert cb.pending == 2 and cb.low == max(0, 2 - WATERMARK_MARGIN)
        again = await callback_stats(db, cb.low)
        assert again.pending == 2
    finally:
        await db.close()
