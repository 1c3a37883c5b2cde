"""(Over 400 lines: the journal's one connection, its deferred writes and kept totals share one transaction.)

The register's journal: one SQLite file in WAL mode, the device's own storage.

Automatic checkpoints are off (they would run inside a commit, doubling its time): the
register checkpoints from a second connection in its own thread between two batches,
whenever the WAL holds :data:`CHECKPOINT_WAL_BYTES` (``VirtualRegister``); the next
write then starts the WAL over, reusing its file from the beginning (overwriting is
cheaper to sync than appending), and ``journal_size_limit`` keeps the file from staying
larger than :data:`WAL_SIZE_LIMIT`. The WAL so stays within a few MB whatever the batch
sizes (a one-document commit writes about 32 KB of WAL: the row, five index pages and the
state). How much the WAL holds is read from the wal-index (``-shm`` file) header's
``mxFrame``, the number of valid frames (https://sqlite.org/walformat.html): the file's
size does not tell, since a WAL that starts over keeps its size. Closing the last
connection checkpoints too.

The standard library's ``sqlite3`` is used on purpose: the journal is the register's
private, synchronous storage driven by its single writer thread (``virtual.py``), not the
service database. ``synchronous=FULL``: a committed document is on disk (fsync) before
its answer leaves. Several processes may open one file: writes are serialised by
``BEGIN IMMEDIATE``; ``PRAGMA data_version`` tells a process another one wrote.

Reports read kept totals, never the documents they sum: the ``days`` table holds each
day's running totals (``reports.add_to_day``), updated in the transaction that writes the
day's documents (the batch's totals are merged into their rows just before COMMIT); a
closed shift's totals are in its Z report, found through a partial index. A journal
without the ``days`` table gets it built from its documents once, when it is opened.
"""

from __future__ import annotations

import copy
import os
import sqlite3
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from kassagate.core.register import reports
from kassagate.core.register.model import SHIFT_KINDS, Doc, RegisterState

SCHEMA_VERSION = 2
BUSY_TIMEOUT_MS = 60_000
#: The register checkpoints once the WAL file has grown to this size.
CHECKPOINT_WAL_BYTES = 4 * 1024 * 1024
#: A WAL file larger than this is truncated when it starts over.
WAL_SIZE_LIMIT = CHECKPOINT_WAL_BYTES
#: The wal-index header: ``mxFrame`` (u32, native byte order) at this offset of the -shm file.
_SHM_MX_FRAME = struct.Struct("=I")
_SHM_MX_FRAME_OFFSET = 16
_WAL_HEADER_BYTES = 32
_WAL_FRAME_HEADER_BYTES = 24

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS docs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    origin TEXT NOT NULL,
    status INTEGER NOT NULL,
    shift INTEGER NOT NULL,
    time TEXT NOT NULL,
    amount INTEGER NOT NULL,
    fd INTEGER UNIQUE,
    fp INTEGER,
    sign INTEGER,
    doc_time TEXT,
    doc_number TEXT,
    ext_id TEXT,
    idem TEXT,
    parent_id INTEGER,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS docs_ext ON docs(ext_id) WHERE ext_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS docs_idem ON docs(idem) WHERE idem IS NOT NULL;
CREATE INDEX IF NOT EXISTS docs_shift ON docs(shift);
CREATE INDEX IF NOT EXISTS docs_time ON docs(time);
CREATE INDEX IF NOT EXISTS docs_open_orders ON docs(id) WHERE kind = 'order' AND status = 0;
CREATE INDEX IF NOT EXISTS docs_close ON docs(shift) WHERE kind = 'close_shift';
"""
#: How many Z reports a journal keeps as read (``close_report``).
_CLOSES_KEPT = 64
#: Each day's running totals (``reports.add_to_day``), as JSON.
_DAYS = "CREATE TABLE days (day TEXT PRIMARY KEY, totals BLOB NOT NULL)"
_SAVE_DAY = "INSERT OR REPLACE INTO days (day, totals) VALUES (?, ?)"

_COLS = (
    "id, kind, origin, status, shift, time, amount, fd, fp, sign, doc_time, doc_number, ext_id, idem, parent_id, body"
)
_INSERT = f"INSERT INTO docs ({_COLS}) VALUES ({','.join('?' * 16)})"  # noqa: S608
#: ``_INSERT`` of a document with neither ext_id nor parent_id (most receipts): their NULL is
#: written in the statement, not bound (sqlite3 looks up an adapter for each None it binds).
_INSERT_PLAIN = f"INSERT INTO docs ({_COLS}) VALUES ({','.join('?' * 12)},NULL,?,NULL,?)"  # noqa: S608
_UPDATE = ("UPDATE docs SET kind=?, origin=?, status=?, shift=?, time=?, amount=?, fd=?, fp=?, sign=?, doc_time=?, "
           "doc_number=?, ext_id=?, idem=?, parent_id=?, body=? WHERE id=?")
#: ``find``: the id of the first document by ext_id or idem (key: column, with an origin).
_FIND = {
    (col, scoped): f"SELECT id FROM docs WHERE {col} = ?{' AND origin = ?' if scoped else ''} "  # noqa: S608
                   "ORDER BY id LIMIT 1"
    for col in ("ext_id", "idem") for scoped in (False, True)
}
_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder()


class _Counted(msgspec.Struct):
    """What counting a document needs of its body (the rest is skipped unparsed)."""

    summary: dict[str, Any]


_counted_dec = msgspec.json.Decoder(_Counted)


class JournalError(Exception):
    """The journal file is missing, not a register journal, or already initialised."""


def connect(path: Path | str) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=60.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return conn


def journal_stamp(path: Path | str) -> tuple[int, ...]:
    """What changes whenever the journal at ``path`` is written: the modification times
    and sizes of its file and its WAL (a ``stat`` each; no connection)."""
    out: list[int] = []
    for name in (str(path), f"{path}-wal"):
        try:
            st = os.stat(name)
        except OSError:
            out += (0, 0)
        else:
            out += (st.st_mtime_ns, st.st_size)
    return tuple(out)


def _row_doc(r: tuple[Any, ...]) -> Doc:
    body = _dec.decode(r[15])
    return Doc(id=r[0], kind=r[1], origin=r[2], status=r[3], shift=r[4], time=r[5], amount=r[6], fd=r[7], fp=r[8],
               sign=r[9], doc_time=r[10], doc_number=r[11], ext_id=r[12], idem=r[13], parent_id=r[14],
               request=body["request"], answer=body["answer"], summary=body["summary"], progress=body["progress"])


def _doc_row(d: Doc) -> tuple[Any, ...]:
    # A bytearray binds as a BLOB like bytes, but without sqlite3's adapter lookup for bytes.
    body = bytearray()
    _enc.encode_into({"request": d.request, "answer": d.answer, "summary": d.summary, "progress": d.progress}, body)
    return (d.id, d.kind, d.origin, d.status, d.shift, d.time, d.amount, d.fd, d.fp, d.sign, d.doc_time,
            d.doc_number, d.ext_id, d.idem, d.parent_id, body)


class Journal:
    """One connection to a journal file; also the ``Store`` of the register's rules."""

    def __init__(self, path: Path | str, *, create: bool = False) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise JournalError(f"no register journal at {self.path}")
        fresh = not self.path.exists()
        if fresh:
            fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        self.conn = connect(self.path)
        self.conn.executescript(_SCHEMA)
        if not self._has_days():
            self._build_days()
        self._page_size: int = self.conn.execute("PRAGMA page_size").fetchone()[0]
        self._shm_fd: int | None = None
        self._find_cursor = self.conn.cursor()  # reused: ``find`` runs for most requests
        self._sp_wanted = False
        self._sp_open = False
        self._pending: tuple[str, tuple[Any, ...]] | None = None
        # Rows of plain one-statement requests, inserted together (one executemany) before
        # any other statement on docs, at the latest before COMMIT; ``find`` knows their keys.
        self._deferred: list[tuple[Any, ...]] = []
        self._deferred_plain: list[tuple[Any, ...]] = []  # (those for _INSERT_PLAIN)
        self._deferred_keys: set[str] = set()  # their ext_id and idem values
        self._flush_failed = False  # the transaction lost deferred rows: it must roll back
        # The open transaction's day totals, written into ``days`` before COMMIT (replaced,
        # never mutated: a savepoint keeps the dict it started with).
        self._days: dict[str, dict[str, Any]] = {}
        self._days_saved: dict[str, dict[str, Any]] = {}
        # Z reports as read (a Z report never changes once written; forgotten on a rollback,
        # which may undo one this transaction wrote)
        self._closes: dict[int, Doc] = {}

    def _has_days(self) -> bool:
        row = self.conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='days'").fetchone()
        return row is not None

    def _build_days(self) -> None:
        """Create ``days`` and fill it from the documents (a journal written without it)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            if not self._has_days():  # (another process may have built it meanwhile)
                self.conn.execute(_DAYS)
                days: dict[str, dict[str, Any]] = {}
                rows = self.conn.execute("SELECT id, kind, time, amount, fd, body FROM docs "
                                         "WHERE fd IS NOT NULL OR kind IN ('deposit', 'withdraw') ORDER BY id")
                for id_, kind, time, amount, fd, body in rows:
                    doc = Doc(id=id_, kind=kind, origin=kind, status=1, shift=0, time=time, amount=amount, fd=fd,
                              summary=_counted_dec.decode(body).summary)
                    day = time[:10]
                    days[day] = reports.add_to_day(days.get(day, {}), doc)
                self.conn.executemany(_SAVE_DAY, [(d, _enc.encode(t)) for d, t in days.items()])
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        if self._shm_fd is not None:
            os.close(self._shm_fd)
            self._shm_fd = None
        self.conn.close()

    # -- transactions and state ---------------------------------------------------------

    def begin(self, *, wait: bool = True) -> None:
        """BEGIN IMMEDIATE: take the write lock, waiting for another process up to the busy
        timeout, or (``wait=False``) raising ``sqlite3.OperationalError`` at once."""
        if wait:
            self.conn.execute("BEGIN IMMEDIATE")
            return
        self.conn.execute("PRAGMA busy_timeout=0")
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        finally:
            self.conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    def commit(self) -> None:
        self._flush()
        if self._flush_failed:
            raise JournalError("deferred documents could not be written: roll the transaction back")
        if self._days:
            self._save_days()
        self.conn.execute("COMMIT")

    def _save_days(self) -> None:
        """Merge the transaction's day totals into their rows (a batch's documents mostly
        fall on one day: one row read and written)."""
        days, self._days = self._days, {}
        self._days_saved = {}
        marks = ",".join("?" * len(days))
        kept = dict(self.conn.execute(f"SELECT day, totals FROM days WHERE day IN ({marks})",  # noqa: S608
                                      tuple(days)).fetchall())
        self.conn.executemany(_SAVE_DAY, [
            (day, _enc.encode(reports.merge(_dec.decode(kept[day]), t) if day in kept else t))
            for day, t in days.items()])

    def rollback(self) -> None:
        self._days, self._days_saved = {}, {}
        self._closes.clear()
        self._deferred, self._deferred_plain, self._deferred_keys = [], [], set()
        self._flush_failed = False
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def wal_bytes(self) -> int:
        """How many bytes the WAL holds (its valid frames; 0 when it is empty). Read from
        the wal-index header without a lock: a hint for when to checkpoint, not more."""
        try:
            if self._shm_fd is None:
                self._shm_fd = os.open(f"{self.path}-shm", os.O_RDONLY)
            raw = os.pread(self._shm_fd, _SHM_MX_FRAME.size, _SHM_MX_FRAME_OFFSET)
        except OSError:
            return 0
        if len(raw) < _SHM_MX_FRAME.size:
            return 0
        frames: int = _SHM_MX_FRAME.unpack(raw)[0]
        return 0 if frames == 0 else _WAL_HEADER_BYTES + frames * (self._page_size + _WAL_FRAME_HEADER_BYTES)

    def checkpoint(self) -> None:
        """Copy the WAL into the database file without blocking writers (PASSIVE)."""
        self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def data_version(self) -> int:
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def has_state(self) -> bool:
        return self.conn.execute("SELECT 1 FROM meta WHERE k='state'").fetchone() is not None

    def load_state(self) -> RegisterState:
        row = self.conn.execute("SELECT v FROM meta WHERE k='state'").fetchone()
        if row is None:
            raise JournalError(f"{self.path} is not an initialised register journal")
        return RegisterState.from_dict(_dec.decode(row[0]))

    def save_state(self, state: RegisterState) -> None:
        # msgspec encodes the dataclasses as ``to_dict`` renders them, without its deep copy
        self.conn.execute("INSERT OR REPLACE INTO meta(k, v) VALUES ('state', ?)", (_enc.encode(state).decode(),))

    # -- Store -------------------------------------------------------------------------

    # A request's writes run in a savepoint, opened lazily: a request that only reads (or
    # fails before writing) costs no statement, and one whose only write is its last
    # statement (a plain sale) needs none: that single statement is atomic by itself. Such a
    # lone INSERT is deferred: the deferred rows go in together (one executemany) before the
    # next other statement on docs, at the latest in ``commit`` (so before any answer).
    def savepoint(self) -> None:
        self._sp_wanted = True
        self._pending = None
        self._days_saved = self._days

    def _write(self, sql: str, args: tuple[Any, ...]) -> None:
        if self._sp_wanted and not self._sp_open and self._pending is None:
            self._pending = (sql, args)
            return
        self._open_savepoint()
        self.conn.execute(sql, args)

    def _defer(self, row: tuple[Any, ...]) -> None:
        if row[12] is None and row[14] is None:
            self._deferred_plain.append((*row[:12], row[13], row[15]))
        else:
            self._deferred.append(row)
            if row[12] is not None:
                self._deferred_keys.add(row[12])
        if row[13] is not None:
            self._deferred_keys.add(row[13])

    def _flush(self) -> None:
        """Insert the deferred rows (before any other statement on docs: order kept). If
        that fails, ``commit`` refuses: answered documents would be missing."""
        if self._deferred or self._deferred_plain:
            rows, plain = self._deferred, self._deferred_plain
            self._deferred, self._deferred_plain, self._deferred_keys = [], [], set()
            try:  # (the rows have their ids: the order of the INSERTs does not matter)
                if rows:
                    self.conn.executemany(_INSERT, rows)
                if plain:
                    self.conn.executemany(_INSERT_PLAIN, plain)
            except BaseException:
                self._flush_failed = True
                raise

    def _before_read(self) -> None:
        if self._pending is not None:
            self._open_savepoint()  # read this request's own writes
        else:
            self._flush()

    def _open_savepoint(self) -> None:
        self._flush()
        if self._sp_wanted and not self._sp_open:
            self.conn.execute("SAVEPOINT req")
            self._sp_open = True
        if self._pending is not None:
            sql, args = self._pending
            self._pending = None
            self.conn.execute(sql, args)

    def rollback_savepoint(self) -> None:
        self._sp_wanted = False
        self._pending = None
        self._days = self._days_saved
        self._closes.clear()
        if self._sp_open:
            self._sp_open = False
            self.conn.execute("ROLLBACK TO req")
            self.conn.execute("RELEASE req")

    def release_savepoint(self) -> None:
        self._sp_wanted = False
        pending, self._pending = self._pending, None
        if self._sp_open:
            self._sp_open = False
            self.conn.execute("RELEASE req")
        elif pending is not None:
            sql, args = pending
            if sql is _INSERT:
                self._defer(args)
            else:
                self._flush()
                self.conn.execute(sql, args)

    def _one(self, where: str, args: tuple[Any, ...], *, index: str | None = None) -> Doc | None:
        self._before_read()
        table = "docs" if index is None else f"docs INDEXED BY {index}"
        r = self.conn.execute(f"SELECT {_COLS} FROM {table} WHERE {where} LIMIT 1", args).fetchone()  # noqa: S608
        return _row_doc(r) if r else None

    def _many(self, where: str, args: tuple[Any, ...]) -> list[Doc]:
        self._before_read()
        rows = self.conn.execute(f"SELECT {_COLS} FROM docs WHERE {where} ORDER BY id", args)  # noqa: S608
        return [_row_doc(r) for r in rows]

    def get(self, document_id: int) -> Doc | None:
        return self._one("id = ?", (document_id,))

    def by_fd(self, fd: int) -> Doc | None:
        return self._one("fd = ?", (fd,))

    def find(self, origin: str | None, *, idem: str | None = None, ext_id: str | None = None) -> Doc | None:
        col, val = ("ext_id", ext_id) if ext_id is not None else ("idem", idem)
        if val is None:
            return None
        if self._pending is not None or val in self._deferred_keys:
            self._before_read()  # this request's own writes, a deferred row with this key
        # Most lookups find nothing (a new document): ask for the id alone, read the rest on a hit.
        r = self._find_cursor.execute(_FIND[col, origin is not None],
                                      (val,) if origin is None else (val, origin)).fetchone()
        return None if r is None else self.get(r[0])

    def last(self) -> Doc | None:
        marks = ",".join("?" * len(SHIFT_KINDS))
        return self._one(f"kind NOT IN ({marks}) ORDER BY id DESC", SHIFT_KINDS)

    def add(self, doc: Doc) -> int:
        self._write(_INSERT, _doc_row(doc))
        return doc.id

    def update(self, doc: Doc) -> None:
        row = _doc_row(doc)
        self._write(_UPDATE, (*row[1:], row[0]))

    def of_shift(self, shift: int) -> list[Doc]:
        return self._many("shift = ?", (shift,))

    def close_report(self, shift: int) -> Doc | None:
        doc = self._closes.get(shift)
        if doc is None:
            doc = self._one("kind = 'close_shift' AND shift = ?", (shift,), index="docs_close")
            if doc is None:
                return None
            if len(self._closes) >= _CLOSES_KEPT:
                self._closes.pop(next(iter(self._closes)))
            self._closes[shift] = doc
        return copy.copy(doc)

    def between(self, start: str, stop: str) -> list[Doc]:
        return self._many("time BETWEEN ? AND ?", (start, stop))

    def count(self, doc: Doc) -> None:
        day = doc.time[:10]
        self._days = {**self._days, day: reports.add_to_day(self._days.get(day, {}), doc)}

    def day_totals(self, first_day: str, last_day: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for (totals,) in self.conn.execute("SELECT totals FROM days WHERE day BETWEEN ? AND ?",
                                           (first_day, last_day)):
            reports.merge_into(out, _dec.decode(totals))  # (a fresh dict each: merged in place)
        for day, running in self._days.items():  # the open transaction's, not yet in the table
            if first_day <= day <= last_day:
                out = reports.merge(out, running)
        return out

    def open_orders(self) -> list[Doc]:
        return self._many("kind = 'order' AND status = 0", ())

    def lines(self) -> Iterator[dict[str, Any]]:
        self._flush()
        for r in self.conn.execute(f"SELECT {_COLS} FROM docs ORDER BY id"):  # noqa: S608
            yield _row_doc(r).journal_line()
