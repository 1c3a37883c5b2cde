"""The durable queue of accepted requests, in the service database.

A request is *due* when it is pending (status 0), its ``next_attempt_at`` has come and no
live lease holds it. ``claim`` takes due requests under a lease: on PostgreSQL with
``FOR UPDATE SKIP LOCKED``, so that any number of workers on any number of machines never
take the same request at once; on SQLite the database's single writer does the same. A
worker that dies leaves its lease to expire, and the request is claimed again.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Boolean, Integer, String, Text, and_, bindparam, insert, or_, select, update

from kassagate.core.states import RequestStatus
from kassagate.storage import outbox
from kassagate.storage.db import Database
from kassagate.storage.group import GroupCommit
from kassagate.storage.request_store import NewRequest
from kassagate.storage.schema import DUE_AT, PENDING_ROW, request_events, requests
from kassagate.storage.sqlite_thread import SqliteStatement, sqlite_statement


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
    #: The register in ``kkt_id`` is known to hold no document of the request.
    kkt_ruled_out: bool = False

    @classmethod
    def stored(cls, request_id: int, new: NewRequest) -> Claimed:
        """The claim of a request stored already claimed (``new`` carries the lease):
        nothing was sent for it yet."""
        return cls(
            id=request_id, nuid=new.nuid, mode=new.mode, kassaid=new.kassaid, cluster_id=new.cluster_id,
            receipt=new.receipt, accepted_at=new.accepted_at, attempts=new.attempts, kkt_id=new.kkt_id,
        )

    @classmethod
    def from_row(cls, row: Any) -> Claimed:
        """A claim from a row of the claim's columns (a mapping by column name)."""
        return cls(
            id=row["id"], nuid=row["nuid"], mode=row["mode"], kassaid=row["kassaid"], cluster_id=row["cluster_id"],
            receipt=row["receipt"], accepted_at=row["accepted_at"], attempts=row["attempts"], kkt_id=row["kkt_id"],
            kkt_ruled_out=bool(row["kkt_ruled_out"]),
        )


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
    requests.c.kkt_ruled_out,
)

#: A request's events beyond the first this many attempts are not written (the timeline
#: stays bounded however long a register keeps a request waiting).
EVENTS_PER_REQUEST = 100


def _due_ids(*, for_update: bool) -> Any:
    """Due requests in the order their time came, read through the partial index
    ``ix_requests_due`` (pending rows by due time): the cost of a poll follows the requests
    that are due or in flight, not those waiting for a later retry."""
    now = bindparam("q_now", type_=BigInteger)
    due = (
        select(requests.c.id)
        .where(
            PENDING_ROW,  # a literal, so that the partial index's condition is seen to hold
            DUE_AT <= now,
            or_(requests.c.lease_until.is_(None), requests.c.lease_until < now),
        )
        .order_by(DUE_AT)
        .limit(bindparam("q_limit", type_=Integer))
    )
    return due.with_for_update(skip_locked=True) if for_update else due


def _claim_statement(*, for_update: bool) -> Any:
    return (
        update(requests)
        .where(requests.c.id.in_(_due_ids(for_update=for_update).scalar_subquery()))
        .values(
            lease_owner=bindparam("q_owner", type_=String),
            lease_until=bindparam("q_lease_until", type_=BigInteger),
            attempts=requests.c.attempts + 1,
        )
        .returning(*_CLAIM_COLUMNS)
    )


def _mine() -> Any:
    """The guard of every write by a lease holder: the request is still pending and still
    leased to ``q_owner``."""
    return and_(
        requests.c.id == bindparam("q_id", type_=BigInteger),
        requests.c.status == RequestStatus.PENDING,
        requests.c.lease_owner == bindparam("q_owner", type_=String),
    )


#: The statements of the queue, written once: PostgreSQL runs them through the async
#: engine, SQLite as their compiled text on the SQLite thread (``Database.sqlite_write``).
CLAIM_PG = _claim_statement(for_update=True)
CLAIM_SQLITE = sqlite_statement(_claim_statement(for_update=False))
RECORD = update(requests).where(_mine()).values(kkt_id=bindparam("q_kkt_id", type_=BigInteger), kkt_ruled_out=False)
RECORD_SQLITE = sqlite_statement(RECORD)
RETRY = (
    update(requests)
    .where(_mine())
    .values(
        next_attempt_at=bindparam("q_next", type_=BigInteger),
        lease_owner=None,
        lease_until=None,
        error_text=bindparam("q_note", type_=Text),
        kkt_ruled_out=bindparam("q_ruled_out", type_=Boolean),
    )
)
RETRY_SQLITE = sqlite_statement(RETRY)
EVENT = insert(request_events).values(
    request_id=bindparam("q_id", type_=BigInteger),
    at=bindparam("e_at", type_=BigInteger),
    kind=bindparam("e_kind", type_=String),
    kkt_id=bindparam("e_kkt_id", type_=BigInteger),
    detail=bindparam("e_detail", type_=Text),
)
EVENT_SQLITE = sqlite_statement(EVENT)


@dataclass(frozen=True, slots=True)
class Event:
    """A line of a request's timeline (``request_events``), written with the change it
    explains, in the same transaction."""

    kind: str  # retry | waiting | failover (the worker's decisions: processing/dispatch.py)
    detail: str
    kkt_id: int | None = None

    def params(self) -> dict[str, Any]:
        return {"e_at": now_us(), "e_kind": self.kind, "e_kkt_id": self.kkt_id, "e_detail": self.detail}


def _end_statement(columns: tuple[str, ...]) -> Any:
    return update(requests).where(_mine()).values({c: bindparam(f"v_{c}", type_=requests.c[c].type) for c in columns})


_END: dict[tuple[str, ...], tuple[Any, SqliteStatement]] = {}


def end_statement(columns: tuple[str, ...]) -> tuple[Any, SqliteStatement]:
    """The UPDATE that ends a request by setting ``columns`` (parameters ``v_<column>``),
    for PostgreSQL and as SQLite text."""
    got = _END.get(columns)
    if got is None:
        stmt = _end_statement(columns)
        got = _END[columns] = (stmt, sqlite_statement(stmt))
    return got


def _claim_rows(conn: sqlite3.Connection, params: dict[str, Any]) -> list[Claimed]:
    cur = conn.execute(CLAIM_SQLITE.sql, CLAIM_SQLITE.params(params))
    names = [d[0] for d in cur.description]
    return [Claimed.from_row(dict(zip(names, row, strict=True))) for row in cur.fetchall()]


async def claim(db: Database, owner: str, *, limit: int, lease_us: int) -> list[Claimed]:
    """Take up to ``limit`` due requests for ``owner`` under a lease of ``lease_us``."""
    now = now_us()
    params = {"q_now": now, "q_limit": limit, "q_owner": owner, "q_lease_until": now + lease_us}
    if db.is_sqlite:
        claims = await db.sqlite_write(_claim_rows, params)
    else:
        async with db.write_connection() as conn:
            claims = [Claimed.from_row(row) for row in (await conn.execute(CLAIM_PG, params)).mappings()]
    return sorted(claims, key=lambda c: c.id)


def _rowcount_with_event(
    conn: sqlite3.Connection, stmt: SqliteStatement, params: dict[str, Any], event: Event | None
) -> int:
    changed = conn.execute(stmt.sql, stmt.params(params)).rowcount
    if changed == 1 and event is not None:
        conn.execute(EVENT_SQLITE.sql, EVENT_SQLITE.params({"q_id": params["q_id"], **event.params()}))
    return changed


async def _write_one(
    db: Database, stmt: Any, lite: SqliteStatement, params: dict[str, Any], event: Event | None = None
) -> int:
    """Rows changed by one guarded UPDATE in its own transaction, with ``event`` recorded
    in that transaction when the UPDATE changed the request."""
    if db.is_sqlite:
        return await db.sqlite_write(_rowcount_with_event, lite, params, event)
    async with db.write_connection() as conn:
        changed = (await conn.execute(stmt, params)).rowcount
        if changed == 1 and event is not None:
            await conn.execute(EVENT, {"q_id": params["q_id"], **event.params()})
        return changed


async def record_register(
    db: Database, request_id: int, owner: str, kkt_id: int, *, event: Event | None = None
) -> bool:
    """Write down, before sending, which register the request goes to (and that it is not
    ruled out there): after a crash, or a lost answer, the next attempt asks that register
    first and sends the request nowhere else until it has answered."""
    params = {"q_id": request_id, "q_owner": owner, "q_kkt_id": kkt_id}
    return await _write_one(db, RECORD, RECORD_SQLITE, params, event) == 1


async def retry_later(
    db: Database, request_id: int, owner: str, *, delay_us: int, note: str, ruled_out: bool = False,
    event: Event | None = None,
) -> None:
    """Back to the queue for a later attempt. ``ruled_out``: the register in ``kkt_id`` is
    known to hold no document of the request (False keeps the request in doubt there)."""
    params = {
        "q_id": request_id, "q_owner": owner, "q_next": now_us() + delay_us, "q_note": note,
        "q_ruled_out": ruled_out,
    }
    await _write_one(db, RETRY, RETRY_SQLITE, params, event)


@dataclass(frozen=True, slots=True)
class End:
    """One request to end: the columns to set (:func:`end_values`) and the kassa whose
    callback URL, if it has one, gets an outbox row in the same transaction."""

    request_id: int
    owner: str
    values: dict[str, Any]
    callback_kassaid: str | None = None


@dataclass(frozen=True, slots=True)
class Ended:
    """``ended``: this call ended the request (False: it had already ended, or another
    worker holds it now). ``callback``: an outbox row was written for it."""

    ended: bool
    callback: bool = False


def _end_params(end: End) -> dict[str, Any]:
    params = {f"v_{c}": v for c, v in end.values.items()}
    params["q_id"], params["q_owner"] = end.request_id, end.owner
    return params


def _end_sqlite(conn: sqlite3.Connection, batch: list[End]) -> list[Ended]:
    out: list[Ended] = []
    for end in batch:
        _, lite = end_statement(tuple(end.values))
        if conn.execute(lite.sql, lite.params(_end_params(end))).rowcount != 1:
            out.append(Ended(False))
            continue
        queued = False
        if end.callback_kassaid is not None:
            enqueue = outbox.ENQUEUE_SQLITE
            params = enqueue.params(outbox.enqueue_params(end.request_id, end.callback_kassaid))
            queued = conn.execute(enqueue.sql, params).rowcount == 1
        out.append(Ended(True, queued))
    return out


class Finisher:
    """Ends requests with group commit (``storage.group``): ends arriving while a
    transaction runs are written together in the next one, each with its own guarded
    ``UPDATE`` and, when the kassa has a callback URL, its outbox row
    (:mod:`kassagate.storage.outbox`) in that same transaction."""

    def __init__(self, db: Database, *, max_batch: int = 256) -> None:
        self.db = db
        self._group: GroupCommit[End, Ended] = GroupCommit(self._commit, max_batch=max_batch, name="kassagate-finisher")

    async def finish(self, end: End) -> Ended:
        return await self._group.submit(end)

    async def _commit(self, batch: list[End]) -> list[Ended]:
        if self.db.is_sqlite:
            return await self.db.sqlite_write(_end_sqlite, batch)
        out: list[Ended] = []
        async with self.db.write_connection() as conn:
            for end in batch:
                stmt, _ = end_statement(tuple(end.values))
                if (await conn.execute(stmt, _end_params(end))).rowcount != 1:
                    out.append(Ended(False))
                    continue
                queued = False
                if end.callback_kassaid is not None:
                    res = await conn.execute(
                        outbox.ENQUEUE, outbox.enqueue_params(end.request_id, end.callback_kassaid)
                    )
                    queued = res.rowcount == 1
                out.append(Ended(True, queued))
        return out


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
        values.update(status=RequestStatus.FISCALIZED, error_code=None, error_text=None)
        values.update({k: getattr(fiscal, k) for k in FiscalData.__slots__})
    else:
        values.update(status=RequestStatus.FAILED, error_code=error_code, error_text=error_text)
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
    callback_kassaid: str | None = None,
) -> bool:
    """End a request: fiscalized (``fiscal``) or failed (``error_code``); with an outbox
    row when ``callback_kassaid`` has a callback URL. False if the request had already
    ended or another worker holds it now."""
    values = end_values(fiscal=fiscal, error_code=error_code, error_text=error_text, kkt_id=kkt_id, kassaid=kassaid)
    ended = await Finisher(db).finish(End(request_id, owner, values, callback_kassaid))
    return ended.ended


class RequestQueue:
    """The queue as a worker uses it, over one database: claims, the writes of a lease
    holder, and ends with group commit (:class:`Finisher`)."""

    def __init__(self, db: Database, *, max_batch: int = 256) -> None:
        self.db = db
        self._finisher = Finisher(db, max_batch=max_batch)

    async def claim(self, owner: str, *, limit: int, lease_us: int) -> list[Claimed]:
        return await claim(self.db, owner, limit=limit, lease_us=lease_us)

    async def record_register(self, request_id: int, owner: str, kkt_id: int, *, event: Event | None = None) -> bool:
        return await record_register(self.db, request_id, owner, kkt_id, event=event)

    async def retry_later(
        self, request_id: int, owner: str, *, delay_us: int, note: str, ruled_out: bool = False,
        event: Event | None = None,
    ) -> None:
        await retry_later(self.db, request_id, owner, delay_us=delay_us, note=note, ruled_out=ruled_out, event=event)

    async def finish(self, end: End) -> Ended:
        return await self._finisher.finish(end)
