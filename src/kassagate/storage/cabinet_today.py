"""The cabinet's "receipts today" per kassa, counted once and then kept up incrementally.

A kassa's first count of the day reads the index (``kassaid``, ``id``) alone, from the
first request accepted today (found by binary search over the primary key, see
``first_id_at``), and stops at :data:`TODAY_CAP`: up to ``TODAY_CAP`` index entries, about
5 ms on PostgreSQL. So the counts are kept per process, each up to a "settled" id below
which every request is committed: the largest id seen at a view :data:`SETTLE` ago or
longer (a request is numbered a few milliseconds before it is committed). A view brings
the kept counts up to the newest settled id (the requests between, all kassas in one
grouped statement) and counts the requests above it afresh. When no view is recent
enough, the counts stay where they are if few requests came since, else the settled id
is the first of the last minute (binary search). A view costs a handful of statements.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from kassagate.storage.db import Database
from kassagate.storage.request_ids import first_id_at
from kassagate.storage.schema import requests

#: Receipts of a kassa today are counted up to this many.
TODAY_CAP = 10_000
#: µs: ids seen this long ago are committed (kept counts never miss a request numbered below them).
SETTLE = 5_000_000
#: µs: when the last view is older than this, the settled id is found by binary search instead.
RECENT = 60_000_000
#: Requests between two views counted in one grouped statement at most (beyond: per kassa, capped).
GROUPED_SPAN = 20_000


@dataclass(slots=True)
class _Kept:
    day_from: int  # µs: the start of the day counted
    through_id: int  # the kassa's requests with the day's first id <= id < through_id ...
    count: int  # ... are this many (at most TODAY_CAP)


class TodayCounts:
    """Receipts per kassa since a day's start, kept for the views to come. One count runs
    at a time: a view arriving meanwhile waits and then finds the counts kept."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._kept: dict[str, _Kept] = {}
        self._day: tuple[int, int] | None = None  # (day_from, its first id)
        self._seen: deque[tuple[int, int]] = deque(maxlen=64)  # (µs, the largest id then)
        self._lock = asyncio.Lock()

    async def _settled_id(self, conn: Any, now: int, day_id: int, wanted: list[str]) -> int:
        """An id below which every request is committed, as recent as cheaply known: the
        largest id seen at a view :data:`SETTLE` to :data:`RECENT` ago; else where the
        kept counts stand, when few requests came since; else (the first view, or none for
        a minute) the first id of the last minute, by binary search."""
        largest = int((await conn.execute(select(func.max(requests.c.id)))).scalar() or 0)
        old = [seen for at, seen in self._seen if now - RECENT <= at <= now - SETTLE]
        self._seen.append((now, largest))
        if old:
            return max(day_id, max(old) + 1)
        kept = [self._kept[k].through_id for k in wanted if k in self._kept]
        if len(kept) == len(wanted) and kept and largest - min(kept) <= GROUPED_SPAN:
            return max(day_id, min(kept))
        return max(day_id, await first_id_at(self.db, now - RECENT, margin=0))

    async def counts(self, kassaids: Iterable[str], *, today_from: int, now: int) -> dict[str, int]:
        """``{kassaid: receipts accepted since today_from}`` (µs), each at most :data:`TODAY_CAP`."""
        from kassagate.storage.cabinet import first_id_at, reading

        wanted = sorted(set(kassaids))
        async with self._lock:
            if self._day is None or self._day[0] != today_from:
                self._day = (today_from, await first_id_at(self.db, today_from, margin=0))
                self._kept.clear()
            day_id = self._day[1]
            async with reading(self.db) as conn:
                settled_id = await self._settled_id(conn, now, day_id, wanted)

                async def count(kassaid: str, from_id: int, to_id: int | None, limit: int) -> int:
                    conds = [requests.c.kassaid == kassaid, requests.c.id >= from_id]
                    if to_id is not None:
                        conds.append(requests.c.id < to_id)
                    mine = select(requests.c.id).where(*conds).limit(limit).subquery()
                    return int((await conn.execute(select(func.count()).select_from(mine))).scalar_one())

                async def grouped(names: list[str], from_id: int, to_id: int | None) -> dict[str, int]:
                    conds = [requests.c.kassaid.in_(names), requests.c.id >= from_id]
                    if to_id is not None:
                        conds.append(requests.c.id < to_id)
                    q = select(requests.c.kassaid, func.count()).where(*conds).group_by(requests.c.kassaid)
                    return {k: int(n) for k, n in (await conn.execute(q)).all()}

                # the kept counts brought up to settled_id: kassas kept through the same id together
                by_start: dict[int, list[str]] = {}
                for kassaid in wanted:
                    kept = self._kept.setdefault(kassaid, _Kept(today_from, day_id, 0))
                    if settled_id <= kept.through_id:
                        continue
                    if kept.count >= TODAY_CAP:
                        kept.through_id = settled_id
                    else:
                        by_start.setdefault(kept.through_id, []).append(kassaid)
                for start, names in by_start.items():
                    if settled_id - start <= GROUPED_SPAN:
                        added = await grouped(names, start, settled_id)
                    else:
                        added = {k: await count(k, start, settled_id, TODAY_CAP - self._kept[k].count) for k in names}
                    for k in names:
                        kept = self._kept[k]
                        kept.count = min(TODAY_CAP, kept.count + added.get(k, 0))
                        kept.through_id = settled_id
                # and the requests since, counted afresh (every kassa from where its count stands)
                fresh: dict[str, int] = {}
                by_through: dict[int, list[str]] = {}
                for kassaid in wanted:
                    by_through.setdefault(self._kept[kassaid].through_id, []).append(kassaid)
                for start, names in by_through.items():
                    fresh.update(await grouped(names, start, None))
            return {k: min(TODAY_CAP, self._kept[k].count + fresh.get(k, 0)) for k in wanted}
