"""The SQLite thread: a failed transaction is undone whole, reported as a StorageError
when SQLite refused it, and the thread goes on."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kassagate.storage.db import open_database
from kassagate.storage.errors import StorageError


def _make_table(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY)")


def _insert(conn: sqlite3.Connection, *keys: str) -> int:
    for key in keys:
        conn.execute("INSERT INTO t (k) VALUES (?)", (key,))
    return int(conn.execute("SELECT count(*) FROM t").fetchone()[0])


def _insert_then_fail(conn: sqlite3.Connection, key: str) -> None:
    conn.execute("INSERT INTO t (k) VALUES (?)", (key,))
    raise ValueError("undo me")


def _keys(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {k for (k,) in conn.execute("SELECT k FROM t")}


async def test_a_failed_transaction_is_undone_whole_and_the_thread_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "k.sqlite3"
    db = await open_database(f"sqlite+aiosqlite:///{path}")
    try:
        await db.sqlite_write(_make_table)
        assert await db.sqlite_write(_insert, "a") == 1
        with pytest.raises(StorageError, match="IntegrityError"):
            await db.sqlite_write(_insert, "b", "a")  # "a" is taken: "b" is undone with it
        with pytest.raises(ValueError, match="undo me"):
            await db.sqlite_write(_insert_then_fail, "c")
        assert _keys(path) == {"a"}
        assert await db.sqlite_write(_insert, "d") == 2
        assert _keys(path) == {"a", "d"}
    finally:
        await db.close()
