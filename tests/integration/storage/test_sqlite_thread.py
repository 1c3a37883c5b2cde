"""The SQLite thread: calls that arrive together share one transaction, and one that
raises is undone alone."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from kassagate.storage.db import open_database
from kassagate.storage.errors import StorageError


def _make_table(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY)")


def _insert(conn: sqlite3.Connection, key: str) -> int:
    conn.execute("INSERT INTO t (k) VALUES (?)", (key,))
    return conn.execute("SELECT count(*) FROM t").fetchone()[0]


def _fail_after_insert(conn: sqlite3.Connection, key: str) -> None:
    conn.execute("INSERT INTO t (k) VALUES (?)", (key,))
    raise ValueError("undo me")


async def test_concurrent_calls_share_transactions_and_a_failure_is_undone_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kassagate.storage.sqlite_thread import SqliteThread

    transactions: list[int] = []
    run = SqliteThread._run

    def counting(self: SqliteThread, batch: list) -> list:  # type: ignore[type-arg]
        transactions.append(len(batch))
        return run(self, batch)

    monkeypatch.setattr(SqliteThread, "_run", counting)
    db = await open_database(f"sqlite+aiosqlite:///{tmp_path / 'k.sqlite3'}")
    try:
        await db.sqlite_write(_make_table)
        calls = [db.sqlite_write(_insert, f"ok-{i}") for i in range(40)]
        calls.insert(20, db.sqlite_write(_fail_after_insert, "bad"))
        results = await asyncio.gather(*calls, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        assert len(errors) == 1 and isinstance(errors[0], ValueError)
        with sqlite3.connect(tmp_path / "k.sqlite3") as conn:
            keys = {k for (k,) in conn.execute("SELECT k FROM t")}
        assert keys == {f"ok-{i}" for i in range(40)}  # "bad" undone, everything else committed
        assert sum(transactions) == 42 and len(transactions) < 10  # the 41 calls shared a few transactions
    finally:
        await db.close()


async def test_an_sqlite_error_is_a_storage_error_and_the_thread_goes_on(tmp_path: Path) -> None:
    db = await open_database(f"sqlite+aiosqlite:///{tmp_path / 'k.sqlite3'}")
    try:
        await db.sqlite_write(_make_table)
        await db.sqlite_write(_insert, "a")
        with pytest.raises(StorageError, match="IntegrityError"):
            await db.sqlite_write(_insert, "a")  # primary key taken
        assert await db.sqlite_write(_insert, "b") == 2
    finally:
        await db.close()
