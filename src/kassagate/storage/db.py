"""Engine setup for both engines, and the :class:`Database` handle.

SQLite: WAL journal, ``synchronous=FULL`` (a committed transaction is on disk before the
commit returns), a busy timeout, foreign keys on. pysqlite's own transaction handling is
switched off and SQLAlchemy emits ``BEGIN`` itself (the recipe of the SQLAlchemy docs), so
that DDL is transactional and writers can ask for ``BEGIN IMMEDIATE`` through the
execution option ``sqlite_begin="IMMEDIATE"``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.util import await_only

from kassagate.config import normalize_database_url
from kassagate.storage.sqlite_thread import SqliteThread

R = TypeVar("R")

SQLITE_BUSY_TIMEOUT_MS = 10_000



def _drop_debug(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.INFO


# At DEBUG, aiosqlite logs every call with its arguments (SQL parameters) and SQLAlchemy
# every result row (receipts with e-mail and phone, token hashes): those records are
# dropped whatever level the logging is set to. SQL parameters are hidden at every level
# (``hide_parameters`` in :func:`create_engine`).
for _name in ("aiosqlite", "sqlalchemy.engine.Engine"):
    logging.getLogger(_name).addFilter(_drop_debug)


def utc_micros(now: float | None = None) -> int:
    """Integer microseconds since the Unix epoch (UTC): how every time is stored."""
    return int((time.time() if now is None else now) * 1_000_000)


def _ensure_wal(cur: Any) -> None:
    """Put the database file in WAL mode (persistent: only a new file needs it).

    Switching a new file to WAL while other processes open it at the same moment can fail
    with "database is locked" at once: SQLite does not call the busy handler when waiting
    could deadlock. Such a start retries for as long as the busy timeout allows.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            cur.execute("PRAGMA journal_mode")
            if str(cur.fetchone()[0]).lower() == "wal":
                return
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except Exception as exc:  # the driver adapter's OperationalError
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        # Inside SQLAlchemy's greenlet bridge: sleep without blocking the event loop.
        await_only(asyncio.sleep(delay))
        delay = min(delay * 2, 0.1)


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # aiosqlite's adapted connection: turn off the driver's implicit BEGIN handling.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _ensure_wal(cur)
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}" if mode in ("IMMEDIATE", "EXCLUSIVE") else "BEGIN")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url`` (any spelling :func:`normalize_database_url` accepts)."""
    url = normalize_database_url(url)
    # Never put SQL parameters (receipts, token hashes) into logs or exception texts.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)  # a fresh data dir
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)
        _install_sqlite_hooks(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


@dataclass
class Database:
    """An engine whose schema is at the latest migration."""

    engine: AsyncEngine
    #: SQLite has one writer at a time. Every write transaction of this process takes this
    #: lock first, so that the process's writers (the intake's group commit, the workers,
    #: the monitor, callbacks) queue here instead of sleeping in SQLite's busy handler
    #: (sleeps of up to 100 ms each). Other processes still meet the busy timeout.
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _sqlite_thread: SqliteThread | None = field(default=None, init=False, repr=False)
    _sqlite_reader: SqliteThread | None = field(default=None, init=False, repr=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    async def sqlite_write(self, fn: Callable[..., R], *args: Any) -> R:
        """SQLite only: ``fn(conn, *args)`` (a plain :mod:`sqlite3` connection) in one write
        transaction on the process's SQLite thread (:mod:`kassagate.storage.sqlite_thread`),
        under :attr:`write_lock`; its result once committed."""
        if self._sqlite_thread is None:
            if not self.is_sqlite:
                raise RuntimeError("sqlite_write needs an SQLite database")
            self._sqlite_thread = SqliteThread(self.engine.url.database or "", busy_timeout_ms=SQLITE_BUSY_TIMEOUT_MS)
        async with self.write_lock:
            return await self._sqlite_thread.run(fn, *args)

    async def sqlite_read(self, fn: Callable[..., R], *args: Any) -> R:
        """SQLite only: ``fn(conn, *args)`` on the process's SQLite reader thread (a plain
        :mod:`sqlite3` connection that refuses writes, no explicit transaction); for hot
        single-statement reads, which cost a twentieth of the event loop's time there."""
        if self._sqlite_reader is None:
            if not self.is_sqlite:
                raise RuntimeError("sqlite_read needs an SQLite database")
            self._sqlite_reader = SqliteThread(
                self.engine.url.database or "", busy_timeout_ms=SQLITE_BUSY_TIMEOUT_MS, readonly=True
            )
        return await self._sqlite_reader.run(fn, *args)

    def write_connection(self) -> Any:
        """A context manager giving a connection in a write transaction (``BEGIN IMMEDIATE``
        on SQLite, so that a writer waits for the lock instead of failing on upgrade).
        Not reentrant: never open one inside another."""
        return _WriteTx(self.engine, self.write_lock if self.is_sqlite else None)

    async def close(self) -> None:
        if self._sqlite_thread is not None:
            await self._sqlite_thread.close()
            self._sqlite_thread = None
        if self._sqlite_reader is not None:
            await self._sqlite_reader.close()
            self._sqlite_reader = None
        await self.engine.dispose()


class _WriteTx:
    def __init__(self, engine: AsyncEngine, lock: asyncio.Lock | None) -> None:
        self._engine = engine
        self._lock = lock
        self._cm: Any = None

    async def __aenter__(self) -> AsyncConnection:
        if self._lock is not None:
            await self._lock.acquire()
        try:
            engine = self._engine.execution_options(sqlite_begin="IMMEDIATE")
            self._cm = engine.begin()
            conn: AsyncConnection = await self._cm.__aenter__()
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise
        return conn

    async def __aexit__(self, *exc: Any) -> Any:
        try:
            return await self._cm.__aexit__(*exc)
        finally:
            if self._lock is not None:
                self._lock.release()


async def open_database(url: str, **kwargs: Any) -> Database:
    """Create the engine and bring the schema to the latest migration."""
    from kassagate.storage.migrate import upgrade

    engine = create_engine(url, **kwargs)
    try:
        await upgrade(engine)
    except BaseException:
        await engine.dispose()
        raise
    return Database(engine)
