"""The accounts repository: kkts (registers), clusters and kassas. Requests are
:mod:`kassagate.storage.request_store`' and :mod:`kassagate.storage.queue`'s."""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import String, cast, delete, func, insert, literal_column, select, update
from sqlalchemy.dialects import postgresql

from kassagate.core.states import FN_STATES, FnState
from kassagate.storage.db import Database, utc_micros
from kassagate.storage.errors import storage_errors
from kassagate.storage.schema import clusters, kassas, kkts
from kassagate.storage.tokens import hash_token

log = logging.getLogger(__name__)

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


@functools.cache
def _fingerprint_statements(sqlite: bool) -> tuple[Any, ...]:
    """The two statements of ``Accounts.fingerprint`` (kassas, registers), built once."""
    out = []
    for table, key in ((kassas, kassas.c.kassaid), (kkts, kkts.c.id)):
        text = _row_text(c for c in table.c if c.name not in ("callback_secret", "created_at"))
        if sqlite:
            rows = select(text.label("t")).order_by(key).subquery()
            out.append(select(func.count(), func.group_concat(rows.c.t, "\n")).select_from(rows))
        else:
            ordered = postgresql.aggregate_order_by(literal_column("E'\\n'"), key)
            out.append(select(func.count(), func.string_agg(text, ordered)))
    return tuple(out)


#: The table of each account kind and its key column.
_ACCOUNT_TABLES: dict[str, tuple[Any, Any]] = {
    "kassa": (kassas, kassas.c.kassaid),
    "cluster": (clusters, clusters.c.cluster_id),
}


async def _exists(conn: Any, key: Any, value: object) -> bool:
    """Whether a row has ``value`` in the key column ``key``."""
    return (await conn.execute(select(key).where(key == value))).first() is not None


#: The columns ``update_kkt`` and ``update_kassa`` may change.
_KKT_COLUMNS = frozenset({"kind", "url", "merchant_id", "journal_path", "fn_serial", "kkt_reg_number", "fn_state"})
_KASSA_COLUMNS = frozenset({"activated", "debug", "kkt_id", "cluster_id", "type", "callback_url", "callback_secret"})


def _check_columns(values: Mapping[str, Any], allowed: frozenset[str]) -> None:
    bad = set(values) - allowed
    if bad:
        raise ValueError(f"cannot update {sorted(bad)}")


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

    async def _update_one(self, stmt: Any, missing: str) -> None:
        """Run an UPDATE of one row; :class:`NotFoundError` (``missing``) when none matched."""
        async with self.db.write_connection() as conn:
            res = await conn.execute(stmt)
            if res.rowcount == 0:
                raise NotFoundError(missing)

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
        fn_state: str = FnState.OK,
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
        _check_columns(values, _KKT_COLUMNS)
        await self._update_one(
            update(kkts).where(kkts.c.id == kkt_id).values(**values, updated_at=utc_micros()),
            f"no kkt with id {kkt_id}",
        )

    async def delete_kkt(self, kkt_id: int) -> None:
        async with self.db.write_connection() as conn:
            await conn.execute(delete(kkts).where(kkts.c.id == kkt_id))

    async def get_kkt(self, kkt_id: int) -> Kkt | None:
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(kkts).where(kkts.c.id == kkt_id))).mappings().first()
        return None if row is None else _kkt_from_row(row)

    async def set_fn_state(self, kkt_id: int, state: str) -> None:
        if state not in FN_STATES:
            raise ValueError(f"fn_state must be one of {FN_STATES}, got {state!r}")
        await self._update_one(
            update(kkts).where(kkts.c.id == kkt_id).values(fn_state=state, updated_at=utc_micros()),
            f"no kkt with id {kkt_id}",
        )

    # clusters
    async def add_cluster(self, cluster_id: str, *, token: str, type: str = "standard", activated: bool = True) -> None:
        salt, token_hash = self._hash(token)
        async with self.db.write_connection() as conn:
            if await _exists(conn, clusters.c.cluster_id, cluster_id):
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
        table, key = _ACCOUNT_TABLES[kind]
        async with self.db.write_connection() as conn:
            res = await conn.execute(
                update(table)
                .where(key == ident, table.c.token_hash == old_hash)
                .values(token_salt=salt, token_hash=token_hash)
            )
            return bool(res.rowcount)

    async def get_cluster(self, cluster_id: str) -> Cluster | None:
        with storage_errors():
            async with self.db.engine.connect() as conn:
                row = (
                    await conn.execute(select(clusters).where(clusters.c.cluster_id == cluster_id))
                ).mappings().first()
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
        await self._update_one(
            update(clusters).where(clusters.c.cluster_id == cluster_id).values(activated=activated),
            f"no cluster {cluster_id}",
        )

    async def cluster_members(self, cluster_id: str) -> list[Kassa]:
        """The kassas of the cluster, each with its register."""
        with storage_errors():
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
            if await _exists(conn, kassas.c.kassaid, kassaid):
                raise DuplicateError(f"kassa {kassaid} already exists")
            if cluster_id is not None and not await _exists(conn, clusters.c.cluster_id, cluster_id):
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
            for stmt in _fingerprint_statements(self.db.is_sqlite):
                count, joined = (await conn.execute(stmt)).one()
                out.append(f"{count}:{hashlib.blake2b((joined or '').encode(), digest_size=16).hexdigest()}")
        return " ".join(out)

    async def get_kassa(self, kassaid: str) -> Kassa | None:
        """The kassa with its register."""
        with storage_errors():
            async with self.db.engine.connect() as conn:
                row = (await conn.execute(_kassa_select().where(kassas.c.kassaid == kassaid))).mappings().first()
        return None if row is None else _kassa_from_row(row)

    async def set_token(self, kind: Literal["kassa", "cluster"], key: str, token: str) -> None:
        """A new token for the kassa or cluster ``key`` (the old one stops working)."""
        table, col = _ACCOUNT_TABLES[kind]
        salt, token_hash = self._hash(token)
        await self._update_one(
            update(table).where(col == key).values(token_salt=salt, token_hash=token_hash), f"no {kind} {key}"
        )

    async def update_kassa(self, kassaid: str, **values: Any) -> None:
        """Change columns of a kassa (``activated``, ``debug``, ``kkt_id``, ``cluster_id``, ...)."""
        _check_columns(values, _KASSA_COLUMNS)
        await self._update_one(
            update(kassas).where(kassas.c.kassaid == kassaid).values(**values), f"no kassa {kassaid}"
        )
