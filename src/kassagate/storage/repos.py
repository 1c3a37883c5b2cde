"""Repositories for kkts, clusters, kassas and requests (contract C4)."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Boolean, String, bindparam, cast, delete, func, insert, literal_column, select, update
from sqlalchemy.dialects import postgresql, sqlite

from kassagate.storage.db import Database, utc_micros
from kassagate.storage.errors import StorageError
from kassagate.storage.group import GroupCommit
from kassagate.storage.schema import clusters, kassas, kkts, requests
from kassagate.storage.sqlite_thread import SqliteStatement, sqlite_statement
from kassagate.storage.tokens import hash_token

log = logging.getLogger(__name__)

FnState = Literal["ok", "full", "broken", "blocked"]
FN_STATES: tuple[str, ...] = ("ok", "full", "broken", "blocked")
ACCOUNT_TYPES: tuple[str, ...] = ("standard", "vending")


class DuplicateError(ValueError):
    """The row already exists (a kassa or cluster id taken)."""


class NotFoundError(LookupError):
    """No row with that key."""


@dataclass(frozen=True, slots=True)
class Kkt:
    id: int
    kind: str
    url: str | None
    merchant_id: str | None
    journal_path: str | None
    fn_serial: str | None
    kkt_reg_number: str | None
    fn_state: str
    updated_at: int

    @property
    def registered(self) -> bool:
        return bool(self.fn_serial) and bool(self.kkt_reg_number)

    def journal_file(self, data_dir: Path) -> Path | None:
        """A virtual register's journal (``journal_path`` is relative to the data dir)."""
        if self.kind != "virtual" or not self.journal_path:
            return None
        path = Path(self.journal_path)
        return path if path.is_absolute() else Path(data_dir) / path


@dataclass(frozen=True, slots=True)
class Kassa:
    kassaid: str
    token_salt: str
    token_hash: str
    type: str
    activated: bool
    debug: bool
    kkt_id: int | None
    cluster_id: str | None
    callback_url: str | None
    kkt: Kkt | None  # the bound register, joined


@dataclass(frozen=True, slots=True)
class Cluster:
    cluster_id: str
    token_salt: str
    token_hash: str
    type: str
    activated: bool


_KKT_COLS = [
    kkts.c.id.label("kkt__id"),
    kkts.c.kind.label("kkt__kind"),
    kkts.c.url.label("kkt__url"),
    kkts.c.merchant_id.label("kkt__merchant_id"),
    kkts.c.journal_path.label("kkt__journal_path"),
    kkts.c.fn_serial.label("kkt__fn_serial"),
    kkts.c.kkt_reg_number.label("kkt__kkt_reg_number"),
    kkts.c.fn_state.label("kkt__fn_state"),
    kkts.c.updated_at.label("kkt__updated_at"),
]


def _kkt_from_row(m: Mapping[str, Any], prefix: str = "") -> Kkt | None:
    if m[f"{prefix}id"] is None:
        return None
    return Kkt(**{f: m[f"{prefix}{f}"] for f in Kkt.__slots__})  # type: ignore[attr-defined]


def _kassa_from_row(m: Mapping[str, Any]) -> Kassa:
    return Kassa(
        kassaid=m["kassaid"],
        token_salt=m["token_salt"],
        token_hash=m["token_hash"],
        type=m["type"],
        activated=bool(m["activated"]),
        debug=bool(m["debug"]),
        kkt_id=m["kkt_id"],
        cluster_id=m["cluster_id"],
        callback_url=m["callback_url"],
        kkt=_kkt_from_row(m, "kkt__"),
    )


def _kassa_select() -> Any:
    return select(kassas, *_KKT_COLS).select_from(kassas.outerjoin(kkts, kassas.c.kkt_id == kkts.c.id))


def _row_text(columns: Iterable[Any]) -> Any:
    """One row's columns as one text (NULL as ``~``), for ``Accounts.fingerprint``."""
    parts = [func.coalesce(c if isinstance(c.type, String) else cast(c, String), "~") for c in columns]
    text = parts[0]
    for part in parts[1:]:
        text = text + "|" + part
    return text


class Accounts:
    """kkts, clusters and kassas.

    ``token_key``: the installation's token key (``front.keys.load_or_create_token_key``),
    needed to store a token (:meth:`add_kassa`, :meth:`add_cluster`); reads need none."""

    def __init__(self, db: Database, token_key: bytes | None = None) -> None:
        self.db = db
        self._token_key = token_key

    def _hash(self, token: str) -> tuple[str, str]:
        if self._token_key is None:
            raise ValueError("storing a token needs the token key (Accounts(db, token_key=...))")
        return hash_token(token, self._token_key)

    # kkts
    async def add_kkt(
        self,
        *,
        kind: Literal["virtual", "remote"],
        url: str | None = None,
        merchant_id: str | None = None,
        journal_path: str | None = None,
        fn_serial: str | None = None,
        kkt_reg_number: str | None = None,
        fn_state: FnState = "ok",
    ) -> int:
        async with self.db.write_connection() as conn:
            res = await conn.execute(
                insert(kkts)
                .values(
                    kind=kind,
                    url=url,
                    merchant_id=merchant_id,
                    journal_path=journal_path,
                    fn_serial=fn_serial,
                    kkt_reg_number=kkt_reg_number,
                    fn_state=fn_state,
                    updated_at=utc_micros(),
                )
                .returning(kkts.c.id)
            )
            return int(res.scalar_one())

    async def update_kkt(self, kkt_id: int, **values: Any) -> None:
        """Change columns of a kkt (``journal_path``, ``fn_serial``, ``kkt_reg_number``, ``url``, ...)."""
        allowed = {"kind", "url", "merchant_id", "journal_path", "fn_serial", "kkt_reg_number", "fn_state"}
        bad = set(values) - allowed
        if bad:
            raise ValueError(f"cannot update {sorted(bad)}")
        async with self.db.write_connection() as conn:
            res = await conn.execute(
                update(kkts).where(kkts.c.id == kkt_id).values(**values, updated_at=utc_micros())
            )
            if res.rowcount == 0:
                raise NotFoundError(f"no kkt with id {kkt_id}")

    async def delete_kkt(self, kkt_id: int) -> None:
        async with self.db.write_connection() as conn:
            await conn.execute(delete(kkts).where(kkts.c.id == kkt_id))

    async def get_kkt(self, kkt_id: int) -> Kkt | None:
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(kkts).where(kkts.c.id == kkt_id))).mappings().first()
        return None if row is None else _kkt_from_row(row)

    async def set_fn_state(self, kkt_id: int, state: FnState) -> None:
        if state not in FN_STATES:
            raise ValueError(f"fn_state must be one of {FN_STATES}, got {state!r}")
        async with self.db.write_connection() as conn:
            res = await conn.execute(
                update(kkts).where(kkts.c.id == kkt_id).values(fn_state=state, updated_at=utc_micros())
            )
            if res.rowcount == 0:
                raise NotFoundError(f"no kkt with id {kkt_id}")

    # clusters
    async def add_cluster(self, cluster_id: str, *, token: str, type: str = "standard", activated: bool = True) -> None:
        salt, token_hash = self._hash(token)
        async with self.db.write_connection() as conn:
            exists = await conn.execute(select(clusters.c.cluster_id).where(clusters.c.cluster_id == cluster_id))
            if exists.first() is not None:
                raise DuplicateError(f"cluster {cluster_id} already exists")
            await conn.execute(
                insert(clusters).values(
                    cluster_id=cluster_id,
                    token_salt=salt,
                    token_hash=token_hash,
                    type=type,
                    activated=activated,
                    created_at=utc_micros(),
                )
            )

    async def replace_token_hash(
        self, kind: Literal["kassa", "cluster"], ident: str, old_hash: str, salt: str, token_hash: str
    ) -> bool:
        """Store ``(salt, token_hash)`` for the kassa or cluster ``ident`` if its token hash
        is still ``old_hash`` (True when it was replaced)."""
        table, key = (kassas, kassas.c.kassaid) if kind == "kassa" else (clusters, clusters.c.cluster_id)
        async with self.db.write_connection() as conn:
            res = await conn.execute(
                update(table)
                .where(key == ident, table.c.token_hash == old_hash)
                .values(token_salt=salt, token_hash=token_hash)
            )
            return bool(res.rowcount)

    async def get_cluster(self, cluster_id: str) -> Cluster | None:
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(clusters).where(clusters.c.cluster_id == cluster_id))).mappings().first()
        if row is None:
            return None
        return Cluster(
            cluster_id=row["cluster_id"],
            token_salt=row["token_salt"],
            token_hash=row["token_hash"],
            type=row["type"],
            activated=bool(row["activated"]),
        )

    async def set_cluster_activated(self, cluster_id: str, activated: bool) -> None:
        async with self.db.write_connection() as conn:
            res = await conn.execute(
                update(clusters).where(clusters.c.cluster_id == cluster_id).values(activated=activated)
            )
            if res.rowcount == 0:
                raise NotFoundError(f"no cluster {cluster_id}")

    async def cluster_members(self, cluster_id: str) -> list[Kassa]:
        async with self.db.engine.connect() as conn:
            rows = (
                await conn.execute(
                    _kassa_select().where(kassas.c.cluster_id == cluster_id).order_by(kassas.c.kassaid)
                )
            ).mappings().all()
        return [_kassa_from_row(r) for r in rows]

    # kassas
    async def add_kassa(
        self,
        kassaid: str,
        *,
        token: str,
        type: str = "standard",
        activated: bool = True,
        debug: bool = False,
        kkt_id: int | None = None,
        cluster_id: str | None = None,
        callback_url: str | None = None,
        callback_secret: str | None = None,
    ) -> None:
        salt, token_hash = self._hash(token)
        async with self.db.write_connection() as conn:
            exists = await conn.execute(select(kassas.c.kassaid).where(kassas.c.kassaid == kassaid))
            if exists.first() is not None:
                raise DuplicateError(f"kassa {kassaid} already exists")
            if cluster_id is not None:
                c = await conn.execute(select(clusters.c.cluster_id).where(clusters.c.cluster_id == cluster_id))
                if c.first() is None:
                    raise NotFoundError(f"no cluster {cluster_id}")
            await conn.execute(
                insert(kassas).values(
                    kassaid=kassaid,
                    token_salt=salt,
                    token_hash=token_hash,
                    type=type,
                    activated=activated,
                    debug=debug,
                    kkt_id=kkt_id,
                    cluster_id=cluster_id,
                    callback_url=callback_url,
                    callback_secret=callback_secret,
                    created_at=utc_micros(),
                )
            )

    async def fingerprint(self) -> str:
        """A text that changes whenever a kassa's or a register's row does (every column
        ``get_kassa`` reads), digested by the database in one query per table: a cache of
        kassas compares it instead of reading them again."""
        out = []
        async with self.db.engine.connect() as conn:
            for table, key in ((kassas, kassas.c.kassaid), (kkts, kkts.c.id)):
                text = _row_text(c for c in table.c if c.name not in ("callback_secret", "created_at"))
                if self.db.is_sqlite:
                    rows = select(text.label("t")).order_by(key).subquery()
                    stmt = select(func.count(), func.group_concat(rows.c.t, "\n")).select_from(rows)
                else:
                    ordered = postgresql.aggregate_order_by(literal_column("E'\\n'"), key)
                    stmt = select(func.count(), func.string_agg(text, ordered))
                count, joined = (await conn.execute(stmt)).one()
                out.append(f"{count}:{hashlib.blake2b((joined or '').encode(), digest_size=16).hexdigest()}")
        return " ".join(out)

    async def get_kassa(self, kassaid: str) -> Kassa | None:
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(_kassa_select().where(kassas.c.kassaid == kassaid))).mappings().first()
        return None if row is None else _kassa_from_row(row)

    async def set_token(self, kind: Literal["kassa", "cluster"], key: str, token: str) -> None:
        """A new token for the kassa or cluster ``key`` (the old one stops working)."""
        table, col = (kassas, kassas.c.kassaid) if kind == "kassa" else (clusters, clusters.c.cluster_id)
        salt, token_hash = self._hash(token)
        async with self.db.write_connection() as conn:
            res = await conn.execute(update(table).where(col == key).values(token_salt=salt, token_hash=token_hash))
            if res.rowcount == 0:
                raise NotFoundError(f"no {kind} {key}")

    async def update_kassa(self, kassaid: str, **values: Any) -> None:
        """Change columns of a kassa (``activated``, ``debug``, ``kkt_id``, ``cluster_id``, ...)."""
        allowed = {"activated", "debug", "kkt_id", "cluster_id", "type", "callback_url", "callback_secret"}
        bad = set(values) - allowed
        if bad:
            raise ValueError(f"cannot update {sorted(bad)}")
        async with self.db.write_connection() as conn:
            res = await conn.execute(update(kassas).where(kassas.c.kassaid == kassaid).values(**values))
            if res.rowcount == 0:
                raise NotFoundError(f"no kassa {kassaid}")


@dataclass(frozen=True, slots=True)
class Stored:
    """The outcome of storing one request: ``id`` when inserted, else the first request
    under the same RID (``duplicate_of``: its ``id``, ``nuid``, ``qnuid``, ``receipt_hash``)."""

    id: int | None
    duplicate_of: Mapping[str, Any] | None = None


class RequestWriter:
    """Stores accepted requests with group commit.

    Each :meth:`insert` waits until its row is committed (durably: WAL + ``synchronous=FULL``
    on SQLite, a normal commit on PostgreSQL). Rows arriving while a commit is running are
    committed together in the next transaction, so the fsync cost is shared (``linger``, see
    :class:`GroupCommit`, may hold a batch open a few milliseconds for more). The RID is
    guarded by the unique constraint (``rid_scope``, ``rid``): the insert is
    ``ON CONFLICT DO NOTHING``, and a row that was not inserted is answered with the row
    that holds its RID.
    """

    def __init__(self, db: Database, *, max_batch: int = 256, linger: Callable[[], float] | None = None) -> None:
        self.db = db
        self._group: GroupCommit[dict[str, Any], Stored] = GroupCommit(
            self._commit, max_batch=max_batch, name="kassagate-request-writer", linger=linger
        )
        self._sql: dict[tuple[str, ...], str] = {}
        dialect = sqlite if db.is_sqlite else postgresql
        self._stmt = (
            dialect.insert(requests)
            .on_conflict_do_nothing(index_elements=["rid_scope", "rid"])
            .returning(requests.c.id, requests.c.nuid)
        )

    async def insert(self, row: dict[str, Any]) -> Stored:
        return await self._group.submit(row)

    async def _commit(self, rows: list[dict[str, Any]]) -> list[Stored]:
        if self.db.is_sqlite:
            return await self.db.sqlite_write(self._insert_sqlite, rows)
        async with self.db.write_connection() as conn:
            res = await conn.execute(self._stmt, rows)
            inserted = {r.nuid: r.id for r in res}
            out: list[Stored] = []
            for row in rows:
                rid_id = inserted.get(row["nuid"])
                if rid_id is not None:
                    out.append(Stored(id=int(rid_id)))
                    continue
                first = (
                    await conn.execute(
                        select(requests.c.id, requests.c.nuid, requests.c.qnuid, requests.c.receipt_hash).where(
                            requests.c.rid_scope == row["rid_scope"], requests.c.rid == row["rid"]
                        )
                    )
                ).mappings().first()
                if first is None:  # cannot happen: the conflict names an existing row
                    raise RuntimeError("insert skipped without a conflicting row")
                out.append(Stored(id=None, duplicate_of=dict(first)))
        return out

    def _insert_sql(self, columns: tuple[str, ...]) -> str:
        sql = self._sql.get(columns)
        if sql is None:
            cols = ", ".join(columns)
            params = ", ".join(f":{c}" for c in columns)
            sql = (
                f"INSERT INTO requests ({cols}) VALUES ({params}) "  # noqa: S608 - column names from our own rows
                "ON CONFLICT (rid_scope, rid) DO NOTHING RETURNING id"
            )
            self._sql[columns] = sql
        return sql

    def _insert_sqlite(self, conn: sqlite3.Connection, rows: list[dict[str, Any]]) -> list[Stored]:
        """The batch in one transaction on the SQLite thread (``Database.sqlite_write``)."""
        out: list[Stored] = []
        for row in rows:
            got = conn.execute(self._insert_sql(tuple(row)), row).fetchone()
            if got is not None:
                out.append(Stored(id=int(got[0])))
                continue
            first = conn.execute(
                "SELECT id, nuid, qnuid, receipt_hash FROM requests WHERE rid_scope = ? AND rid = ?",
                (row["rid_scope"], row["rid"]),
            ).fetchone()
            if first is None:
                raise StorageError("insert skipped without a conflicting row")
            out.append(Stored(id=None, duplicate_of=dict(zip(("id", "nuid", "qnuid", "receipt_hash"), first,
                                                               strict=True))))
        return out

    async def close(self) -> None:
        await self._group.close()


#: SQLite text of the requests' hot reads (``Requests``), compiled from Core once.
_REQUEST_BY_ID = sqlite_statement(select(requests).where(requests.c.id == bindparam("id")))
_REQUEST_BY_IDS = sqlite_statement(
    select(requests).where(requests.c.nuid == bindparam("nuid"), requests.c.qnuid == bindparam("qnuid"))
)
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


class Requests:
    """Reads of the requests table (the writer is :class:`RequestWriter`). On SQLite the
    reads of one request run on the database's reader thread (``Database.sqlite_read``):
    the status endpoint and the synchronous wait read a request per answer."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_by_ids(self, nuid: str, qnuid: str) -> dict[str, Any] | None:
        if self.db.is_sqlite:
            return await self.db.sqlite_read(_request_row, _REQUEST_BY_IDS, {"nuid": nuid, "qnuid": qnuid})
        async with self.db.engine.connect() as conn:
            row = (
                await conn.execute(select(requests).where(requests.c.nuid == nuid, requests.c.qnuid == qnuid))
            ).mappings().first()
        return None if row is None else dict(row)

    async def get(self, request_id: int) -> dict[str, Any] | None:
        if self.db.is_sqlite:
            return await self.db.sqlite_read(_request_row, _REQUEST_BY_ID, {"id": request_id})
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(requests).where(requests.c.id == request_id))).mappings().first()
        return None if row is None else dict(row)

    async def find_by_rid(self, rid_scope: str, rid: str) -> dict[str, Any] | None:
        async with self.db.engine.connect() as conn:
            row = (
                await conn.execute(select(requests).where(requests.c.rid_scope == rid_scope, requests.c.rid == rid))
            ).mappings().first()
        return None if row is None else dict(row)

    async def pending_counts(self, kassaids: Iterable[str]) -> dict[str, int]:
        """Requests still pending (status 0) per kassa: the load used to pick a kassa."""
        ids = list(kassaids)
        if not ids:
            return {}
        async with self.db.engine.connect() as conn:
            rows = await conn.execute(
                select(requests.c.kassaid, func.count())
                .where(requests.c.kassaid.in_(ids), requests.c.status == 0)
                .group_by(requests.c.kassaid)
            )
            counts = {k: int(n) for k, n in rows}
        return {k: counts.get(k, 0) for k in ids}

    async def count(self) -> int:
        async with self.db.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(requests))).scalar_one())
