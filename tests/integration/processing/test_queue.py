"""The durable queue on both engines: claims never overlap, leases expire, only the lease
holder ends a request."""

from __future__ import annotations

import asyncio
import secrets

from sqlalchemy import insert, select

from kassagate.core.states import RequestStatus
from kassagate.storage import queue
from kassagate.storage.db import Database, open_database
from kassagate.storage.schema import requests


async def add_requests(db: Database, n: int) -> list[int]:
    now = queue.now_us()
    rows = [
        dict(
            nuid=f"{secrets.randbelow(10**23):023d}",
            qnuid=f"{secrets.randbelow(10**23):023d}",
            mode="kassa",
            kassaid="1",
            receipt="{}",
            receipt_hash="0" * 64,
            check_type=1,
            debug=False,
            accepted_at=now,
            status=0,
        )
        for _ in range(n)
    ]
    async with db.write_connection() as conn:
        await conn.execute(insert(requests), rows)
        ids = (await conn.execute(select(requests.c.id).order_by(requests.c.id))).scalars().all()
    return list(ids)


async def test_concurrent_claims_never_overlap(database_url: str) -> None:
    db = await open_database(database_url)
    try:
        ids = await add_requests(db, 200)

        async def worker(name: str) -> list[int]:
            got: list[int] = []
            while True:
                batch = await queue.claim(db, name, limit=7, lease_us=60_000_000)
                if not batch:
                    return got
                got.extend(c.id for c in batch)

        results = await asyncio.gather(*(worker(f"w{i}") for i in range(4)))
        claimed = [i for r in results for i in r]
        assert sorted(claimed) == ids  # every request claimed exactly once
        assert len(set(claimed)) == len(claimed)
    finally:
        await db.close()


async def test_expired_lease_is_claimed_again_and_only_the_holder_finishes(database_url: str) -> None:
    db = await open_database(database_url)
    try:
        [rid] = await add_requests(db, 1)
        [first] = await queue.claim(db, "dead-worker", limit=5, lease_us=1)
        assert first.attempts == 1
        await asyncio.sleep(0.01)
        [second] = await queue.claim(db, "live-worker", limit=5, lease_us=60_000_000)
        assert (second.id, second.attempts) == (rid, 2)
        fiscal = queue.FiscalData(1, 7, "123", "9" * 16, "1" * 16, 1, 1, "t=1")
        assert not await queue.finish(db, rid, "dead-worker", fiscal=fiscal)  # its lease is gone
        assert await queue.finish(db, rid, "live-worker", fiscal=fiscal)
        assert not await queue.finish(db, rid, "live-worker", fiscal=fiscal)  # ended once only
        assert await queue.claim(db, "other", limit=5, lease_us=60_000_000) == []
        async with db.engine.connect() as conn:
            row = (await conn.execute(select(requests).where(requests.c.id == rid))).one()
        assert (row.status, row.fd_number, row.lease_owner) == (RequestStatus.FISCALIZED, 7, None)
    finally:
        await db.close()


async def test_retry_later_hides_the_request_until_due(database_url: str) -> None:
    db = await open_database(database_url)
    try:
        [rid] = await add_requests(db, 1)
        [c] = await queue.claim(db, "w", limit=1, lease_us=60_000_000)
        await queue.retry_later(db, c.id, "w", delay_us=200_000, note="register unreachable")
        assert await queue.claim(db, "w", limit=1, lease_us=60_000_000) == []
        await asyncio.sleep(0.25)
        [again] = await queue.claim(db, "w", limit=1, lease_us=60_000_000)
        assert (again.id, again.attempts) == (rid, 2)
    finally:
        await db.close()
