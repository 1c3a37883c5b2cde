"""Benchmark: the intake's per-request account path against the number of kassas sending.

The account path of a request is what the intake asks of its accounts before the receipt
itself: the kassa (with its register's row) and the token check, through the front's
``AccountCache`` on a service database (SQLite) holding ``--large`` kassas (2,000). Two
cases in one run, alternating: requests from one kassa, and requests from every kassa in
turn (round-robin), each at ``--rate`` requests per second as a loaded front server
receives them (so that an entry cached for one kassa is as old as it would be there); the
process's CPU time per request. The last line is the headline: the ratio round-robin /
one kassa (target: at most 1.5).

    .venv/bin/python bench/scale_kassas.py [--large 2000] [--rate 150] [--requests 1500]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from kassagate.front.context import AccountCache
from kassagate.storage.db import open_database, utc_micros
from kassagate.storage.repos import Accounts, Requests
from kassagate.storage.schema import kassas
from kassagate.storage.tokens import hash_token


async def run(ids: list[str], cache: AccountCache, rate: float, requests: int) -> float:
    """CPU seconds per request over ``requests`` requests at ``rate`` per second."""
    period = 1.0 / rate
    cpu = time.process_time()
    start = time.monotonic()
    for i in range(requests):
        kid = ids[i % len(ids)]
        kassa = await cache.kassa(kid)
        assert kassa is not None and await cache.verify_token(f"token-{kid}", kassa)
        delay = start + (i + 1) * period - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    return (time.process_time() - cpu) / requests


async def measure(large: int, rate: float, requests: int, rounds: int = 2) -> tuple[float, float]:
    """CPU seconds per request: (one kassa, ``large`` kassas round-robin), the best of
    ``rounds`` alternating rounds."""
    key = secrets.token_bytes(32)
    results: dict[str, list[float]] = {"one": [], "all": []}
    with tempfile.TemporaryDirectory() as tmp:
        db = await open_database(f"sqlite:///{Path(tmp) / 'kassagate.sqlite3'}")
        try:
            ids = [f"{100000 + i}" for i in range(large)]
            rows = []
            for kid in ids:
                salt, token_hash = hash_token(f"token-{kid}", key)
                rows.append({"kassaid": kid, "token_salt": salt, "token_hash": token_hash, "type": "standard",
                             "activated": True, "debug": False, "created_at": utc_micros()})
            async with db.write_connection() as conn:
                await conn.execute(insert(kassas), rows)
            cache = AccountCache(Accounts(db, key), Requests(db), key)
            await run(ids[:1], cache, rate * 10, 100)  # warm up
            for _ in range(rounds):
                results["one"].append(await run(ids[:1], cache, rate, requests))
                results["all"].append(await run(ids, cache, rate, requests))
        finally:
            await db.close()
    return min(results["one"]), min(results["all"])


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--large", type=int, default=2000)
    p.add_argument("--rate", type=float, default=150.0)
    p.add_argument("--requests", type=int, default=1500)
    p.add_argument("--rounds", type=int, default=2)
    a = p.parse_args()
    one, every = await measure(a.large, a.rate, a.requests, a.rounds)
    print(f"account path, CPU per request: 1 kassa {one * 1e6:.0f} us, {a.large} kassas round-robin "
          f"{every * 1e6:.0f} us (at {a.rate:.0f} requests/s)")
    print(f"kassas {a.large}/1: ratio {every / one:.2f} (target <= 1.5)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
