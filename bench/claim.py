"""Benchmark: the queue's claim poll while a backlog of requests waits for a retry.

A worker polls the queue every 0.5 s. When a register is down for an hour, thousands of
requests wait for their next attempt (pending, ``next_attempt_at`` in the future) and none
is due. A poll must then cost the same whether 10^3 or 10^5 requests wait: this bench
stores ``--small`` and then ``--large`` waiting requests (and a few in flight, under a
live lease), times ``queue.claim`` with nothing due, on SQLite and on PostgreSQL (when
one answers at ``KASSAGATE_TEST_PG``'s server), and prints the ratio large / small of the
median poll.

    .venv/bin/python bench/claim.py [--small 1000] [--large 100000] [--polls 30]

The last line is the headline: the worse of the engines' ratios (target: at most 1.5).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

import pgdb
from kassagate.core.states import RequestStatus
from kassagate.storage import queue
from kassagate.storage.db import Database, open_database
from kassagate.storage.schema import requests


def _row(i: int, now: int, *, due_at: int, lease_until: int | None) -> dict[str, object]:
    return {
        "nuid": f"{i:023d}", "qnuid": f"{secrets.randbelow(10**23):023d}", "mode": "kassa", "kassaid": "1",
        "receipt": "{}", "receipt_hash": "0" * 64, "check_type": 1, "debug": False, "accepted_at": now,
        "status": RequestStatus.PENDING, "attempts": 1, "next_attempt_at": due_at,
        "lease_owner": "w" if lease_until else None,
        "lease_until": lease_until, "kkt_id": 1,
    }


async def _fill(db: Database, start: int, count: int) -> None:
    now = queue.now_us()
    hour = 3600 * 1_000_000
    for lo in range(start, start + count, 5000):
        rows = [_row(i, now, due_at=now + hour, lease_until=None) for i in range(lo, min(lo + 5000, start + count))]
        async with db.write_connection() as conn:
            await conn.execute(insert(requests), rows)


async def _polls(db: Database, n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        got = await queue.claim(db, "bench", limit=32, lease_us=60_000_000)
        times.append(time.perf_counter() - t)
        assert not got, "nothing is due"
    return statistics.median(times)


async def measure(url: str, small: int, large: int, polls: int) -> tuple[float, float]:
    db = await open_database(url)
    try:
        # A few requests in flight under a live lease: due by time, held by a worker.
        now = queue.now_us()
        async with db.write_connection() as conn:
            await conn.execute(insert(requests), [_row(10**12 + i, now, due_at=now, lease_until=now + 3600 * 10**6)
                                                  for i in range(32)])
        await _fill(db, 0, small)
        small_t = await _polls(db, polls)
        await _fill(db, small, large - small)
        large_t = await _polls(db, polls)
        return small_t, large_t
    finally:
        await db.close()


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small", type=int, default=1000)
    p.add_argument("--large", type=int, default=100_000)
    p.add_argument("--polls", type=int, default=30)
    a = p.parse_args()
    ratios = []

    async def run(name: str, url: str) -> None:
        small_t, large_t = await measure(url, a.small, a.large, a.polls)
        ratios.append(large_t / small_t)
        print(f"{name}: claim poll, nothing due: {a.small:,} waiting {small_t * 1000:.2f} ms, "
              f"{a.large:,} waiting {large_t * 1000:.2f} ms (median of {a.polls}); ratio {large_t / small_t:.2f}")

    with tempfile.TemporaryDirectory() as tmp:
        await run("SQLite", f"sqlite:///{Path(tmp) / 'claim.sqlite3'}")
    why = await pgdb.available()
    if why is None:
        async with pgdb.temporary_database("bench_claim") as url:
            await run("PostgreSQL", url)
    else:
        print(f"PostgreSQL: skipped ({why})")
    print(f"claim poll cost, {a.large:,} / {a.small:,} requests waiting for a retry (worst engine): {max(ratios):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
