"""The durable queue of accepted requests, in the service database.

A request is *due* when it is pending (status 0), its ``next_attempt_at`` has come and no
live lease holds it. ``claim`` takes due requests under a lease: on PostgreSQL with
``FOR UPDATE SKIP LOCKED``, so that any number of workers on any number of machines never
take the same request at once; on SQLite the database's single writer does the same. A
worker that dies leaves its lease to expire, and the request is claimed again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select, update

from kassagate.storage.db import Database
from kassagate.storage.group import GroupCommit
from kassagate.storage.schema import requests

PENDING, FISCALIZED, FAILED, DEBUG = 0, 1, 2, 3


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    nuid: str
    mode: str
    kassaid: str
    cluster_id: str | None
    receipt: str
    accepted_at: int
    attempts: int
    kkt_id: int | None


@dataclass(frozen=True, slots=True)
class FiscalData:
    fiscal_dt: int | None
    fd_number: int | None
    fiscal_sign: str | None
    fn_serial: str | None
    kkt_reg_number: str | None
    shift_number: int | None
    number_in_shift: int | None
    qr: str | None


_CLAIM_COLUMNS = (
    requests.c.id,
    requests.c.nuid,
    requests.c.mode,
    requests.c.kassaid,
    requests.c.cluster_id,
    requests.c.receipt,
    requests.c.accepted_at,
    requests.c.attempts,
    requests.c.kkt_id,
)


async def claim(db: Database, owner: str, *, limit: int, lease_us: int) -> list[Claimed]:
    """Take up to ``limit`` due requests for ``owner`` under a lease of ``lease_us``."""
    now = now_us()
    due = (
        select(requests.c.id)
        .where(
            requests.c.status == PENDING,
            or_(requests.c.next_attempt_at.is_(None), requests.c.next_attempt_at <= now),
            or_(requests.c.lease_until.is_(None), requests.c.lease_until < now),
        )
        .order_by(requests.c.id)
        .limit(limit)
    )
    if not db.is_sqlite:
        due = due.with_for_update(skip_locked=True)
    stmt = (
        update(requests)
        .where(requests.c.id.in_(due.scalar_subquery()))
        .values(lease_owner=owner, lease_until=now + lease_us, attempts=requests.c.attempts + 1)
        .returning(*_CLAIM_COLUMNS)
    )
    async with db.write_connection() as conn:
        rows = (await conn.execute(stmt)).all()
    return sorted((Claimed(*row) for row in rows), key=lambda c: c.id)


def _mine(request_id: int, owner: str) -> Any:
    return and_(requests.c.id == request_id, requests.c.status == PENDING, requests.c.lease_owner == owner)


async def record_register(db: Database, request_id: int, owner: str, kkt_id: int) -> bool:
    """Write down, before sending, which register the request goes to: after a crash the
    next worker asks that register first instead of fiscalizing elsewhere."""
    async with db.write_connection() as conn:
        res = await conn.execute(update(requests).where(_mine(request_id, owner)).values(kkt_id=kkt_id))
    return res.rowcount == 1


async def retry_later(db: Database, request_id: int, owner: str, *, delay_us: int, note: str) -> None:
    async with db.write_connection() as conn:
        await conn.execute(
            update(requests)
            .where(_mine(request_id, owner))
            .values(next_attempt_at=now_us() + delay_us, lease_owner=None, lease_until=None, error_text=note)
        )


class Finisher:
    """Ends requests with group commit (``storage.group``): ends arriving while a
    transaction runs are written together in the next one, each with its own guarded
    ``UPDATE`` and its ``also(conn)`` (the callback outbox) in that same transaction."""

    def __init__(self, db: Database, *, max_batch: int = 256) -> None:
        self.db = db
        self._group: GroupCommit[tuple[int, str, dict[str, Any], Any], bool] = GroupCommit(
            self._commit, max_batch=max_batch, name="kassagate-finisher"
        )

    async def finish(self, request_id: int, owner: str, values: dict[str, Any], also: Any) -> bool:
        """False if the request had already ended or another worker holds it now."""
        return await self._group.submit((request_id, owner, values, also))

    async def _commit(self, batch: list[tuple[int, str, dict[str, Any], Any]]) -> list[bool]:
        ended: list[bool] = []
        async with self.db.write_connection() as conn:
            for request_id, owner, values, also in batch:
                res = await conn.execute(update(requests).where(_mine(request_id, owner)).values(**values))
                ok = res.rowcount == 1
                if ok and also is not None:
                    await also(conn)
                ended.append(ok)
        return ended


def end_values(
    *,
    fiscal: FiscalData | None,
    error_code: int | None,
    error_text: str | None,
    kkt_id: int | None,
    kassaid: str | None,
) -> dict[str, Any]:
    """The columns that end a request: fiscalized (``fiscal``) or failed (``error_code``)."""
    values: dict[str, Any] = {"lease_owner": None, "lease_until": None, "finished_at": now_us()}
    if fiscal is not None:
        values.update(status=FISCALIZED, error_code=None, error_text=None)
        values.update({k: getattr(fiscal, k) for k in FiscalData.__slots__})
    else:
        values.update(status=FAILED, error_code=error_code, error_text=error_text)
    if kkt_id is not None:
        values["kkt_id"] = kkt_id
    if kassaid is not None:
        values["kassaid"] = kassaid  # cluster mode: the kassa that fiscalized it
    return values


async def finish(
    db: Database,
    request_id: int,
    owner: str,
    *,
    fiscal: FiscalData | None = None,
    error_code: int | None = None,
    error_text: str | None = None,
    kkt_id: int | None = None,
    kassaid: str | None = None,
    also: Any = None,
) -> bool:
    """End a request: fiscalized (``fiscal``) or failed (``error_code``). ``also(conn)``
    runs in the same transaction (the callback outbox). False if the request had already
    ended or another worker holds it now."""
    values = end_values(fiscal=fiscal, error_code=error_code, error_text=error_text, kkt_id=kkt_id, kassaid=kassaid)
    return await Finisher(db).finish(request_id, owner, values, also)
