"""The queue's claim reads pending requests through ``ix_requests_due`` on both engines:
a backlog of requests waiting for a later retry costs a poll nothing (``bench/claim.py``
measures it)."""

from __future__ import annotations

import secrets

from sqlalchemy import insert, text
from sqlalchemy.dialects import postgresql, sqlite

from kassagate.core.states import RequestStatus
from kassagate.storage import queue
from kassagate.storage.db import open_database
from kassagate.storage.schema import requests


def _waiting(i: int, now: int) -> dict[str, object]:
    return {
        "nuid": f"{i:023d}", "qnuid": f"{secrets.randbelow(10**23):023d}", "mode": "kassa", "kassaid": "1",
        "receipt": "{}", "receipt_hash": "0" * 64, "check_type": 1, "debug": False, "accepted_at": now,
        "status": RequestStatus.PENDING if i % 2 else RequestStatus.FISCALIZED, "attempts": 1,
        "next_attempt_at": now + 3600 * 10**6,
    }


async def test_the_claim_reads_due_requests_through_their_index(database_url: str) -> None:
    db = await open_database(database_url)
    try:
        now = queue.now_us()
        async with db.write_connection() as conn:
            await conn.execute(insert(requests), [_waiting(i, now) for i in range(5000)])
        dialect = sqlite.dialect() if db.is_sqlite else postgresql.dialect()
        due = queue._due_ids(for_update=False).params(q_now=now, q_limit=32)
        sql = str(due.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        async with db.write_connection() as conn:
            await conn.execute(text("ANALYZE"))
        async with db.engine.connect() as conn:
            explain = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN "
            plan = "\n".join(str(row[-1]) for row in (await conn.execute(text(explain + sql))).all())
        assert "ix_requests_due" in plan, plan
        assert "Seq Scan" not in plan and "SCAN requests" not in plan, plan
        # And the claim itself finds nothing due among them.
        assert await queue.claim(db, "w", limit=32, lease_us=10**6) == []
    finally:
        await db.close()
