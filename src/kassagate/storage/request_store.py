"""The requests table: storing accepted requests (:class:`RequestWriter`, a
:class:`NewRequest` each) and reading them (:class:`Requests`). The queue's writes to a
stored request (claim, record, retry, end) are :mod:`kassagate.storage.queue`'s.

Each statement is written once, as SQLAlchemy Core: PostgreSQL runs it through the async
engine, SQLite as its compiled text on the SQLite thread (``Database.sqlite_write`` and
``sqlite_read``), one hand-off per transaction or read.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import Boolean, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite

from kassagate.core.states import RequestStatus
from kassagate.storage.db import Database
from kassagate.storage.errors import StorageError, storage_errors
from kassagate.storage.group import GroupCommit
from kassagate.storage.schema import requests
from kassagate.storage.sqlite_thread import SqliteStatement, sqlite_statement


class NewRequest(msgspec.Struct, frozen=True, kw_only=True):
    """An accepted request as it is stored (its ``id`` comes with the store). A request
    stored already claimed by a worker of this process carries that worker's lease
    (``lease_owner``, ``lease_until``, one attempt); a debug request its fake fiscal data
    and its final status."""

    nuid: str
    qnuid: str
    mode: str  # kassa | cluster
    kassaid: str
    receipt: str  # JSON of the checked receipt, wire form
    receipt_hash: str
    check_type: int
    debug: bool
    accepted_at: int
    cluster_id: str | None = None
    rid_scope: str | None = None
    rid: str | None = None
    status: int = RequestStatus.PENDING
    error_code: int | None = None
    error_text: str | None = None
    attempts: int = 0
    next_attempt_at: int | None = None
    lease_owner: str | None = None
    lease_until: int | None = None
    kkt_id: int | None = None
    fiscal_dt: int | None = None
    fd_number: int | None = None
    fiscal_sign: str | None = None
    fn_serial: str | None = None
    kkt_reg_number: str | None = None
    shift_number: int | None = None
    number_in_shift: int | None = None
    qr: str | None = None
    finished_at: int | None = None
    order_label: str | None = None


#: The columns a :class:`NewRequest` sets.
NEW_COLUMNS: tuple[str, ...] = NewRequest.__struct_fields__


@dataclass(frozen=True, slots=True)
class Stored:
    """The outcome of storing one request: ``id`` when inserted, else the first request
    under the same RID (``duplicate_of``: its ``id``, ``nuid``, ``qnuid``, ``receipt_hash``)."""

    id: int | None
    duplicate_of: Mapping[str, Any] | None = None


def _insert_statement(dialect: Any) -> Any:
    """The insert of one :class:`NewRequest` (parameters named as its fields); a request
    whose RID is taken is skipped (``ON CONFLICT DO NOTHING``) and answers no row."""
    values = {name: bindparam(name, type_=requests.c[name].type) for name in NEW_COLUMNS}
    return (
        dialect.insert(requests)
        .values(values)
        .on_conflict_do_nothing(index_elements=["rid_scope", "rid"])
        .returning(requests.c.id, requests.c.nuid)
    )


_FIRST_UNDER_RID = select(requests.c.id, requests.c.nuid, requests.c.qnuid, requests.c.receipt_hash).where(
    requests.c.rid_scope == bindparam("rid_scope"), requests.c.rid == bindparam("rid")
)
_INSERT_PG = _insert_statement(postgresql)
_INSERT_SQLITE = sqlite_statement(_insert_statement(sqlite))
_FIRST_UNDER_RID_SQLITE = sqlite_statement(_FIRST_UNDER_RID)


def _insert_sqlite(conn: sqlite3.Connection, batch: list[NewRequest]) -> list[Stored]:
    """The batch in one transaction on the SQLite thread (``Database.sqlite_write``): its
    parameters are built there too, off the event loop."""
    out: list[Stored] = []
    insert_sql, first_sql = _INSERT_SQLITE.sql, _FIRST_UNDER_RID_SQLITE.sql
    for request in batch:
        params = msgspec.structs.asdict(request)
        got = conn.execute(insert_sql, params).fetchone()
        if got is not None:
            out.append(Stored(id=int(got[0])))
            continue
        cur = conn.execute(first_sql, {"rid_scope": params["rid_scope"], "rid": params["rid"]})
        first = cur.fetchone()
        if first is None:
            raise StorageError("insert skipped without a conflicting row")
        out.append(Stored(id=None, duplicate_of=dict(zip((d[0] for d in cur.description), first, strict=True))))
    return out


class RequestWriter:
    """Stores accepted requests with group commit.

    Each :meth:`insert` waits until its row is committed (durably: WAL + ``synchronous=FULL``
    on SQLite, a normal commit on PostgreSQL). Rows arriving while a commit is running are
    committed together in the next transaction, so the fsync cost is shared (``linger``, see
    :class:`GroupCommit`, may hold a batch open a few milliseconds for more). The RID is
    guarded by the unique constraint (``rid_scope``, ``rid``): the insert is
    ``ON CONFLICT DO NOTHING``, and a row that was not inserted is answered with the row
    that holds its RID. A database failure is raised as ``StorageError``.
    """

    def __init__(self, db: Database, *, max_batch: int = 256, linger: Callable[[], float] | None = None) -> None:
        self.db = db
        self._group: GroupCommit[NewRequest, Stored] = GroupCommit(
            self._commit, max_batch=max_batch, name="kassagate-request-writer", linger=linger
        )

    async def insert(self, request: NewRequest) -> Stored:
        return await self._group.submit(request)

    async def _commit(self, batch: list[NewRequest]) -> list[Stored]:
        if self.db.is_sqlite:
            return await self.db.sqlite_write(_insert_sqlite, batch)
        rows = [msgspec.structs.asdict(r) for r in batch]
        with storage_errors():
            async with self.db.write_connection() as conn:
                inserted = {r.nuid: r.id for r in await conn.execute(_INSERT_PG, rows)}
                out: list[Stored] = []
                for row in rows:
                    rid_id = inserted.get(row["nuid"])
                    if rid_id is not None:
                        out.append(Stored(id=int(rid_id)))
                        continue
                    params = {"rid_scope": row["rid_scope"], "rid": row["rid"]}
                    first = (await conn.execute(_FIRST_UNDER_RID, params)).mappings().first()
                    if first is None:  # cannot happen: the conflict names an existing row
                        raise StorageError("insert skipped without a conflicting row")
                    out.append(Stored(id=None, duplicate_of=dict(first)))
        return out

    async def close(self) -> None:
        await self._group.close()


#: SQLite text of the requests' hot reads (``Requests``), compiled from Core once.
_BY_ID = select(requests).where(requests.c.id == bindparam("id"))
_BY_IDS = select(requests).where(requests.c.nuid == bindparam("nuid"), requests.c.qnuid == bindparam("qnuid"))
_STATUS = select(requests.c.status).where(requests.c.id == bindparam("id"))
_BY_ID_SQLITE = sqlite_statement(_BY_ID)
_BY_IDS_SQLITE = sqlite_statement(_BY_IDS)
_STATUS_SQLITE = sqlite_statement(_STATUS)
_REQUEST_BOOLEANS = tuple(c.name for c in requests.columns if isinstance(c.type, Boolean))


def _request_row(conn: sqlite3.Connection, stmt: SqliteStatement, params: dict[str, Any]) -> dict[str, Any] | None:
    """One ``requests`` row as SQLAlchemy would give it (booleans as ``bool``)."""
    cur = conn.execute(stmt.sql, stmt.params(params))
    found = cur.fetchone()
    if found is None:
        return None
    row = dict(zip((d[0] for d in cur.description), found, strict=True))
    for name in _REQUEST_BOOLEANS:
        if row[name] is not None:
            row[name] = bool(row[name])
    return row


def _scalar(conn: sqlite3.Connection, stmt: SqliteStatement, params: dict[str, Any]) -> Any:
    found = conn.execute(stmt.sql, stmt.params(params)).fetchone()
    return None if found is None else found[0]


class Requests:
    """Reads of the requests table (the writer is :class:`RequestWriter`). On SQLite the
    reads of one request run on the database's reader thread (``Database.sqlite_read``):
    the status endpoint and the synchronous wait read a request per answer."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def _one(self, stmt: Any, lite: SqliteStatement, params: dict[str, Any]) -> dict[str, Any] | None:
        if self.db.is_sqlite:
            return await self.db.sqlite_read(_request_row, lite, params)
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(stmt, params)).mappings().first()
        return None if row is None else dict(row)

    async def get_by_ids(self, nuid: str, qnuid: str) -> dict[str, Any] | None:
        return await self._one(_BY_IDS, _BY_IDS_SQLITE, {"nuid": nuid, "qnuid": qnuid})

    async def get(self, request_id: int) -> dict[str, Any] | None:
        return await self._one(_BY_ID, _BY_ID_SQLITE, {"id": request_id})

    async def status(self, request_id: int) -> int | None:
        """The request's status (``RequestStatus``); None when there is no such request."""
        params = {"id": request_id}
        if self.db.is_sqlite:
            return await self.db.sqlite_read(_scalar, _STATUS_SQLITE, params)  # type: ignore[no-any-return]
        async with self.db.engine.connect() as conn:
            return (await conn.execute(_STATUS, params)).scalar()

    async def find_by_rid(self, rid_scope: str, rid: str) -> dict[str, Any] | None:
        async with self.db.engine.connect() as conn:
            row = (
                await conn.execute(select(requests).where(requests.c.rid_scope == rid_scope, requests.c.rid == rid))
            ).mappings().first()
        return None if row is None else dict(row)

    async def pending_counts(self, kassaids: Iterable[str]) -> dict[str, int]:
        """Requests still pending per kassa: the load used to pick a kassa."""
        ids = list(kassaids)
        if not ids:
            return {}
        with storage_errors():
            async with self.db.engine.connect() as conn:
                rows = await conn.execute(
                    select(requests.c.kassaid, func.count())
                    .where(requests.c.kassaid.in_(ids), requests.c.status == RequestStatus.PENDING)
                    .group_by(requests.c.kassaid)
                )
                counts = {k: int(n) for k, n in rows}
        return {k: counts.get(k, 0) for k in ids}

    async def count(self) -> int:
        async with self.db.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(requests))).scalar_one())
