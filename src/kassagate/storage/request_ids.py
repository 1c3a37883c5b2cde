"""Time bounds turned into id bounds over the requests table: ids grow with acceptance
times, so the first request accepted at a moment is found by binary search over the
primary key (the cabinet's filters by date, its counts of today and of the last minute)."""

from __future__ import annotations

import sqlite3
from collections.abc import Generator
from typing import Any

from sqlalchemy import bindparam, func, select

from kassagate.storage.db import Database
from kassagate.storage.schema import requests
from kassagate.storage.sqlite_thread import SqliteStatement, sqlite_statement

#: Requests are numbered in the order they are stored, a few milliseconds after their
#: acceptance time: ids and acceptance times grow together, up to this much disorder
#: (several front servers, clocks apart). A time bound is turned into an id bound with
#: this margin, and the time condition is kept: the id bound only narrows the scan.
TIME_ORDER_MARGIN = 60_000_000

_MIN_ID = select(func.min(requests.c.id))
_MAX_ID = select(func.max(requests.c.id))
_AT_OR_AFTER = (
    select(requests.c.id, requests.c.accepted_at)
    .where(requests.c.id >= bindparam("from_id"))
    .order_by(requests.c.id)
    .limit(1)
)
# two statements: SQLite reads min() or max() from the index only when it is alone
_MIN_ID_LITE, _MAX_ID_LITE, _AT_OR_AFTER_LITE = (sqlite_statement(x) for x in (_MIN_ID, _MAX_ID, _AT_OR_AFTER))


def _bisect(first: int | None, last: int | None, target: int) -> Generator[int, Any, int]:
    """The binary search of :func:`first_id_at`: yields the ids to look at, is sent back the
    first ``(id, accepted_at)`` from each on (or ``None``), and returns the id found."""
    if first is None or last is None:
        return 0
    lo, hi = int(first), int(last) + 1
    while lo < hi:
        mid = (lo + hi) // 2
        row = yield mid
        if row is None or row[1] >= target:
            hi = mid
        else:
            lo = int(row[0]) + 1
    return lo


def _first_id_sqlite(conn: sqlite3.Connection, target: int) -> int:
    def one(stmt: SqliteStatement, **params: Any) -> Any:
        return conn.execute(stmt.sql, stmt.params(params)).fetchone()

    search = _bisect(one(_MIN_ID_LITE)[0], one(_MAX_ID_LITE)[0], target)
    try:
        probe = next(search)
        while True:
            probe = search.send(one(_AT_OR_AFTER_LITE, from_id=probe))
    except StopIteration as found:
        return int(found.value)


async def first_id_at(db: Database, micros: int, *, margin: int = TIME_ORDER_MARGIN) -> int:
    """An id such that every request accepted at or after ``micros`` has a larger or equal
    id (by binary search over the primary key: about log2(rows) lookups, on SQLite in one
    call on the database's reader thread). With ``margin=0``: the first id accepted at
    ``micros`` or later, as if the ids were in acceptance order exactly (a count from there
    is off by the few requests stored out of order around that moment)."""
    target = micros - margin
    if db.is_sqlite:
        return int(await db.sqlite_read(_first_id_sqlite, target))
    async with db.engine.connect() as conn:
        first = (await conn.execute(_MIN_ID)).scalar()
        last = (await conn.execute(_MAX_ID)).scalar()
        search = _bisect(first, last, target)
        try:
            probe = next(search)
            while True:
                probe = search.send((await conn.execute(_AT_OR_AFTER, {"from_id": probe})).first())
        except StopIteration as found:
            return int(found.value)
