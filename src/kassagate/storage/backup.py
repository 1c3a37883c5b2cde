"""SQLite files copied while they are in use: SQLite's online backup API."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from kassagate.storage.db import SQLITE_BUSY_TIMEOUT_MS


def sqlite_online_copy(source: Path, target: Path) -> None:
    """Copy the SQLite database ``source`` to ``target`` (a new file) as one consistent
    snapshot, while other connections (other processes too) go on reading and writing it.
    The copy is checked with ``PRAGMA quick_check``."""
    src = sqlite3.connect(source, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # all pages in one step: one read transaction, one snapshot
            # A single file, without -wal and -shm beside it.
            dst.execute("PRAGMA journal_mode=DELETE")
            result = dst.execute("PRAGMA quick_check").fetchone()
            if result is None or result[0] != "ok":
                raise sqlite3.DatabaseError(f"the copy of {source.name} fails its check: {result}")
        finally:
            dst.close()
    finally:
        src.close()
