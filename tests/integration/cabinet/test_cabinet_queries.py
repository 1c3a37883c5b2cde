"""The cabinet's queries on both engines: time bounds turned into id bounds (requests
accepted slightly out of order included), and the counts of the overview and kassas."""

from __future__ import annotations

import random
from typing import Any

import pytest

from kassagate.storage import open_database
from kassagate.storage.cabinet import TIME_ORDER_MARGIN, RequestFilter, first_id_at, list_kassas, list_requests
from kassagate.storage.cabinet import overview as overview_of
from kassagate.storage.repos import Accounts
from kassagate.storage.request_store import NewRequest, RequestWriter

SECOND = 1_000_000


def row(i: int, at: int, kassaid: str = "1") -> dict[str, Any]:
    return {
        "nuid": f"{i:023d}", "qnuid": f"{i:023d}"[::-1], "mode": "kassa", "kassaid": kassaid, "cluster_id": None,
        "rid_scope": None, "rid": None, "receipt": "{}", "receipt_hash": "0" * 64, "check_type": 1, "debug": False,
        "accepted_at": at, "status": 1, "order_label": None,
    }


async def test_time_bounds_find_exactly_the_requests_of_the_range(database_url: str) -> None:
    db = await open_database(database_url)
    try:
        await Accounts(db, b"k" * 32).add_kassa("1", token="t")
        await Accounts(db, b"k" * 32).add_kassa("2", token="t")
        rng = random.Random(7)
        base = 1_700_000_000 * SECOND
        # one request every 10 s, stored up to 20 s out of order (several front servers)
        times = [base + i * 10 * SECOND + rng.randint(-20, 20) * SECOND for i in range(300)]
        writer = RequestWriter(db)
        try:
            for i, at in enumerate(times):
                await writer.insert(NewRequest(**row(i, at, kassaid=str(1 + i % 2))))
        finally:
            await writer.close()
        async with db.engine.connect() as conn:
            for probe in (base - 3600 * SECOND, base + 777 * SECOND, base + 1500 * SECOND, base + 10**10):
                boundary = await first_id_at(db, probe)
                ids = await conn.run_sync(lambda c, p=probe: [
                    r[0] for r in c.exec_driver_sql(f"SELECT id FROM requests WHERE accepted_at >= {p}")  # noqa: S608
                ])
                assert all(i >= boundary for i in ids)
                # and not far below: the first of them, less the margin's worth (two requests a 10 s)
                assert not ids or boundary >= min(ids) - TIME_ORDER_MARGIN // (10 * SECOND) - 4
        since, until = base + 600 * SECOND, base + 1800 * SECOND
        want = sorted((i for i, at in enumerate(times) if since <= at < until), reverse=True)
        got = await list_requests(db, None, RequestFilter(since=since, until=until), limit=1000)
        assert [int(r["nuid"]) for r in got] == want
        mine = await list_requests(db, {"2"}, RequestFilter(since=since, until=until), limit=1000)
        assert [int(r["nuid"]) for r in mine] == [i for i in want if i % 2 == 1]

        now = times[-1] + 5 * SECOND
        figures = await overview_of(db, None, now=now)
        assert figures["last_minute"] == sum(1 for at in times if at >= now - 60 * SECOND)
        # receipts today: counted from an id bound alone, off by the disorder around it at most
        kassas = {k["kassaid"]: k["today"] for k in await list_kassas(db, None, today_from=since)}
        for kassaid, parity in (("1", 0), ("2", 1)):
            exact = sum(1 for i, at in enumerate(times) if at >= since and i % 2 == parity)
            assert abs(kassas[kassaid] - exact) <= 2
        assert TIME_ORDER_MARGIN > 20 * SECOND
        empty = await open_database(database_url.replace("kassagate.sqlite3", "empty.sqlite3"))
        try:
            if empty.is_sqlite:
                assert await first_id_at(empty, base) == 0
        finally:
            await empty.close()
    finally:
        await db.close()


async def test_receipts_today_are_kept_up_between_views(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The counts kept between views equal a fresh count at every view: requests arriving
    between views, a day's change, and a kassa reaching the cap."""
    from kassagate.storage import cabinet_today
    from kassagate.storage.cabinet_today import TodayCounts

    db = await open_database(database_url)
    try:
        for k in ("1", "2", "3"):
            await Accounts(db, b"k" * 32).add_kassa(k, token="t")
        base = 1_700_000_000 * SECOND
        day = base + 3600 * SECOND
        writer = RequestWriter(db)
        kept = TodayCounts(db)
        clock = base
        n = 0

        async def add(count: int, kassaids: str = "12") -> None:
            nonlocal n, clock
            for _ in range(count):
                clock += 2 * SECOND
                await writer.insert(NewRequest(**row(n, clock, kassaid=kassaids[n % len(kassaids)])))
                n += 1

        async def check(today_from: int) -> dict[str, int]:
            got = await kept.counts(["1", "2", "3"], today_from=today_from, now=clock)
            fresh = await TodayCounts(db).counts(["1", "2", "3"], today_from=today_from, now=clock)
            assert got == fresh
            return got

        try:
            await add(1800 + 100)  # an hour before the day starts, then some of the day
            assert await check(day) == {"1": 50, "2": 51, "3": 0}  # the request at the day's start counts
            for _ in range(8):  # views a few seconds apart, then a minute apart
                await add(3)
                await check(day)
            await add(40)
            assert sum((await check(day)).values()) == 101 + 24 + 40
            next_day = day + 500 * SECOND
            assert await check(next_day) == await TodayCounts(db).counts(["1", "2", "3"], today_from=next_day,
                                                                          now=clock)
            monkeypatch.setattr(cabinet_today, "TODAY_CAP", 30)
            kept = TodayCounts(db)
            await check(day)
            await add(10, "3")
            got = await check(day)
            assert got["1"] == got["2"] == 30 and got["3"] == 10
        finally:
            await writer.close()
    finally:
        await db.close()
