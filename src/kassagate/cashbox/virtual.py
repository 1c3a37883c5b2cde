"""(Over 400 lines: the register's batching loop and the helpers that open its journal file by path.)

The virtual cash register: the core rules (``core.register``, ``core.fn``) over the
SQLite journal, with group commit (contract C3 of ``docs/architecture.md``).

One writer thread per open register takes every queued request, runs each in a
SAVEPOINT against the in-memory state (the rules restore the state on an error answer),
commits the batch once (fsync) and only then answers all of them. A fiscal answer
therefore never leaves before its document is on disk; ``kill -9`` at any moment leaves
either the whole batch or nothing. (The journal inserts the rows of the batch's plain
receipts together, before the commit: ``Journal._flush``.) The requests of one batch
share its time (the clock is read once per batch).

The batching loop here is the register's own, not ``storage.group.GroupCommit``, for
what a register's batch is that an item list is not: BEGIN may have to wait for another
process holding the journal's write lock and then reloads the state that process wrote;
each request runs in its own savepoint against the in-memory state, an error answer
undoing only itself; COMMIT runs on the event loop while the disk's fsync is fast (a
thread hop would cost more) and the WAL is checkpointed between batches; and ``submit``
hands the HTTP server the answer's future itself, with no coroutine per request (the
register's hot path). ``GroupCommit`` commits a list of items in one callback and
answers through a coroutine per item.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import random
import secrets
import sqlite3
import time
import zoneinfo
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec

from kassagate.core.codes import CashboxCode
from kassagate.core.fn import FiscalDrive
from kassagate.core.register import READ_ONLY, Doc, MemoryStore, Register, RegisterState, error_answer
from kassagate.core.register.clock import TIME_FORMAT
from kassagate.core.register.rules import check_tax_rates
from kassagate.core.tables import FN_VALIDITY_MONTHS

from .journal import CHECKPOINT_WAL_BYTES, Journal, JournalError

log = logging.getLogger("kassagate.cashbox")

DEFAULT_TIMEZONE = "Europe/Moscow"
MAX_BATCH = 1024
#: Loop iterations the writer waits for a growing queue before taking a batch.
GATHER_ITERATIONS = 4
#: COMMIT (fsync) on the event loop while it takes less than this on average.
INLINE_COMMIT_SECONDS = 0.002

Clock = Callable[[], dt.datetime]


@dataclass(frozen=True)
class RegisterIdentity:
    kkt_serial: str
    fn_serial: str | None  # None: no fiscal registration
    kkt_reg_number: str | None


def _digits(n: int) -> str:
    return "".join(str(secrets.randbelow(10)) for _ in range(n))


def _identity(state: RegisterState) -> RegisterIdentity:
    fn = state.fn
    return RegisterIdentity(state.kkt_serial, fn.serial if fn else None, fn.reg_number if fn else None)


#: ``configure``'s default: leave the register's tax-rate setting as it is.
KEEP: Any = object()
ID_TYPES = {"shift_id_type": ("int", "string"), "fiscal_id_type": ("string", "int")}


def configure(state: RegisterState, *, tax_rates: list[int] | None = KEEP, shift_id_type: str | None = None,
              fiscal_id_type: str | None = None) -> None:
    """Apply the register's settings to ``state`` (ValueError says what is wrong):
    ``tax_rates`` a fixed list of percents × 100 (None: the Russian VAT table by date),
    ``shift_id_type`` (``int``/``string``) and ``fiscal_id_type`` (``string``/``int``): the
    JSON type of ``shiftID`` and ``fiscalID`` in answers."""
    if tax_rates is not KEEP:
        state.tax_rates = None if tax_rates is None else check_tax_rates(list(tax_rates))
    for name, value in (("shift_id_type", shift_id_type), ("fiscal_id_type", fiscal_id_type)):
        if value is None:
            continue
        if value not in ID_TYPES[name]:
            raise ValueError(f"{name.replace('_', '-')} must be one of {', '.join(ID_TYPES[name])}, got {value!r}")
        setattr(state, name, value)


def create_register(path: Path, *, merchant_id: str, registered: bool = True, auto_shift: bool = True,
                    fn_capacity: int = 250_000, fn_validity_months: int = 36, now: dt.datetime | None = None,
                    timezone: str = DEFAULT_TIMEZONE, tax_rates: list[int] | None = None,
                    shift_id_type: str = "int", fiscal_id_type: str = "string") -> RegisterIdentity:
    """Create a register's journal at ``path`` (a new file). ``registered``: an FN is
    installed and the registration report is FD 1. The settings: see ``configure``."""
    if not merchant_id:
        raise ValueError("merchant_id must not be empty")
    if fn_validity_months not in FN_VALIDITY_MONTHS:
        raise ValueError(f"fn_validity_months must be one of {FN_VALIDITY_MONTHS}")
    if fn_capacity < 2:
        raise ValueError("fn_capacity must be at least 2")
    try:
        tz = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {timezone!r} (an IANA name such as Europe/Moscow)") from None
    settings = RegisterState(kkt_serial="", merchant_id="")
    configure(settings, tax_rates=tax_rates, shift_id_type=shift_id_type, fiscal_id_type=fiscal_id_type)
    now = (now or dt.datetime.now(tz)).astimezone(tz)
    path = Path(path)
    if path.exists() and path.stat().st_size > 0:
        j = Journal(path)
        try:
            if j.has_state():
                raise JournalError(f"a register journal already exists at {path}")
        finally:
            j.close()
    j = Journal(path, create=True)
    try:
        j.begin()
        if j.has_state():
            j.rollback()
            raise JournalError(f"a register journal already exists at {path}")
        fn = None
        if registered:
            fn = FiscalDrive(serial="9999" + _digits(12), reg_number="0000" + _digits(12),
                             key_hex=secrets.token_hex(32), registered_at=now.replace(tzinfo=None).isoformat(),
                             capacity=fn_capacity, validity_months=fn_validity_months)
        state = RegisterState(kkt_serial="0" + _digits(19), merchant_id=merchant_id, fn=fn, auto_shift=auto_shift,
                              timezone=timezone, tax_rates=settings.tax_rates, shift_id_type=settings.shift_id_type,
                              fiscal_id_type=settings.fiscal_id_type)
        if fn is not None:
            fd, fp = fn.issue("registration", now)
            state.last_doc_id = 1
            j.add(Doc(id=1, kind="registration", origin="registration", status=1, shift=0,
                      time=now.strftime(TIME_FORMAT), fd=fd, fp=fp,
                      answer={"kktRegNumber": fn.reg_number, "fnNumber": fn.serial}))
        j.save_state(state)
        j.commit()
        return _identity(state)
    finally:
        j.close()


def set_fault(path: Path, *, fn: Literal["ok", "full", "broken"] | None = None, ofd_down: bool | None = None,
              printer_fail: bool | None = None, terminal_fail: bool | None = None) -> None:
    """Fault injection: change the FN state, the virtual OFD, printer or bank terminal of
    the register at ``path``. A running register (any process) sees it at its next request."""
    j = Journal(path)
    try:
        j.begin()
        state = j.load_state()
        if fn is not None:
            if state.fn is None:
                j.rollback()
                raise JournalError("the register has no fiscal registration (no FN)")
            state.fn.set_fault(fn)
        if ofd_down is not None and state.fn is not None:
            state.fn.ofd_down = ofd_down
        if printer_fail is not None:
            state.printer_fail = printer_fail
        if terminal_fail is not None:
            state.terminal_fail = terminal_fail
        j.save_state(state)
        j.commit()
    finally:
        j.close()


def set_fn_state(path: Path, state: Literal["ok", "full", "broken"]) -> None:
    """Set the FN state of the register at ``path`` (sync; a running register sees it)."""
    set_fault(path, fn=state)


def read_journal(path: Path, *, offsets: bool = False) -> Iterator[dict[str, Any]]:
    """The register's documents, oldest first: fd, type, docNumber, amount, time, fiscalSign, ...

    ``time`` is the register's local time (its time zone), as in the fiscal sign: ``YYYY-MM-DD
    HH:MM:SS``; with ``offsets`` (the journal commands' output) ISO 8601 with the zone's UTC
    offset, ``2026-12-03T16:00:00+03:00``. ``docTime`` is always the sender's text, unchanged."""
    j = Journal(path)
    try:
        tz = zoneinfo.ZoneInfo(j.load_state().timezone) if offsets else None
        for line in j.lines():
            if tz is not None and line.get("time"):
                line["time"] = dt.datetime.strptime(line["time"], TIME_FORMAT).replace(tzinfo=tz).isoformat()
            yield line
    finally:
        j.close()


def read_state(path: Path) -> RegisterState:
    """The state of the register at ``path`` as its journal holds it, read through a
    read-only connection closed at once (a register that is not open stays closed)."""
    conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=60.0)
    try:
        row = conn.execute("SELECT v FROM meta WHERE k='state'").fetchone()
    finally:
        conn.close()
    if row is None:
        raise JournalError(f"{path} is not an initialised register journal")
    return RegisterState.from_dict(msgspec.json.decode(row[0]))


def state_info(state: RegisterState, now: dt.datetime | None = None) -> dict[str, Any]:
    """The ``/get_info`` answer of a register in ``state`` at ``now`` (default: its clock),
    computed by the register's rules on a copy of the state, without its journal."""
    tz = zoneinfo.ZoneInfo(state.timezone)
    when = (now or dt.datetime.now(tz)).astimezone(tz)
    return Register(state.clone(), MemoryStore()).handle("get_info", {}, when, random.Random(0))


def read_fn_key(path: Path) -> bytes | None:
    """The FN key of the register at ``path`` (to verify receipts), None without an FN."""
    j = Journal(path)
    try:
        fn = j.load_state().fn
        return fn.key if fn else None
    finally:
        j.close()


class VirtualRegister:
    """One virtual register, open on its journal file."""

    identity: RegisterIdentity
    merchant_id: str

    def __init__(self, journal: Journal, state: RegisterState, clock: Clock | None, rng: random.Random) -> None:
        self._journal = journal
        self._register = Register(state, journal)
        self._tz = zoneinfo.ZoneInfo(state.timezone)
        self._clock = clock
        self._rng = rng
        # Unknown until the first batch reads it under the write lock (and reloads the state:
        # another process may have written between loading ``state`` and now).
        self._version = -1
        # Only the event loop touches the queue (``handle`` appends, the writer task takes).
        self._queue: deque[tuple[str, dict[str, Any], asyncio.Future[dict[str, Any]]]] = deque()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kassagate-register")
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self._commit_ema = 0.0
        self._checkpointing = False
        self._wal_bytes = 0  # what the WAL held after the last commit
        self._ckpt_journal: Journal | None = None
        self._ckpt_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kassagate-checkpoint")
        self.identity = _identity(state)
        self.merchant_id = state.merchant_id
        self.path = journal.path

    @classmethod
    async def open(cls, path: Path, *, clock: Clock | None = None, rng: random.Random | None = None) -> VirtualRegister:
        """Open the register whose journal is at ``path`` (made by ``create_register``).

        ``clock`` returns the current time (tz-aware; default: the system clock); it is read
        once per batch of requests."""
        loop = asyncio.get_running_loop()

        def load() -> tuple[Journal, RegisterState]:
            j = Journal(path)
            try:
                return j, j.load_state()
            except BaseException:
                j.close()
                raise

        journal, state = await loop.run_in_executor(None, load)
        return cls(journal, state, clock, rng or random.Random(secrets.randbits(128)))

    @property
    def state(self) -> RegisterState:
        return self._register.state

    def now(self) -> dt.datetime:
        if self._clock is None:
            return dt.datetime.now(self._tz)
        return self._clock().astimezone(self._tz)

    async def handle(self, endpoint: str, request: dict[str, Any]) -> dict[str, Any]:
        """The JSON answer to one request; never raises for bad input."""
        return await self.submit(endpoint, request)

    def submit(self, endpoint: str, request: dict[str, Any]) -> asyncio.Future[dict[str, Any]]:
        """``handle`` as a future of the answer (no coroutine of its own: the HTTP server
        awaits it directly)."""
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        if self._closed:
            fut.set_result(error_answer(CashboxCode.INTERNAL, "the register is closed"))
        elif not isinstance(request, dict):
            fut.set_result(error_answer(CashboxCode.INVALID_JSON, "the request must be a JSON object"))
        else:
            self._queue.append((endpoint, request, fut))
            if self._writer is None or self._writer.done():
                self._writer = asyncio.create_task(self._write_loop())
        return fut

    async def _write_loop(self) -> None:
        """Group commit: take every queued request, BEGIN, run each (in its savepoint),
        COMMIT (fsync), then answer them all.

        BEGIN runs on the loop when the write lock is free at once (else in the writer
        thread, which may wait for another process). COMMIT runs on the loop while the
        disk's fsync is fast (an average under ``INLINE_COMMIT_SECONDS``: a thread hop then
        costs more than the fsync), else in the writer thread so that the loop keeps reading
        requests for the next batch meanwhile."""
        loop = asyncio.get_running_loop()
        queue = self._queue
        while queue:
            # Let the requests already on their way (read, being parsed) join this batch:
            # yield to the loop while the queue still grows, a few iterations at most.
            for _ in range(GATHER_ITERATIONS):
                n = len(queue)
                await asyncio.sleep(0)
                if len(queue) == n:
                    break
            if len(queue) <= MAX_BATCH:
                batch = list(queue)
                queue.clear()
            else:
                batch = [queue.popleft() for _ in range(MAX_BATCH)]
            try:
                if not self._try_begin():
                    await loop.run_in_executor(self._executor, self._begin)
                try:
                    answers, writes = self._run_batch([(e, r) for e, r, _ in batch])
                    if self._commit_ema < INLINE_COMMIT_SECONDS:
                        self._commit(writes)
                    else:
                        await loop.run_in_executor(self._executor, self._commit, writes)
                except BaseException:
                    await loop.run_in_executor(self._executor, self._abort)
                    raise
            except Exception:
                log.exception("register %s: the journal could not commit", self.identity.kkt_serial)
                answers = [error_answer(CashboxCode.INTERNAL, "the register's journal could not be written; "
                                                              "nothing was fiscalized, retry") for _ in batch]
            for (_, _, fut), answer in zip(batch, answers, strict=True):
                if not fut.done():
                    fut.set_result(answer)
            if self._wal_bytes >= CHECKPOINT_WAL_BYTES:
                self._wal_bytes = 0
                self._checkpointing = True
                await loop.run_in_executor(self._ckpt_executor, self._checkpoint)

    def _try_begin(self) -> bool:
        """BEGIN without waiting; False when another process holds the write lock."""
        j = self._journal
        try:
            j.begin(wait=False)
        except sqlite3.OperationalError:
            return False
        try:
            self._reload_if_changed()
        except BaseException:
            j.rollback()
            raise
        return True

    def _begin(self) -> None:
        j = self._journal
        j.begin()
        try:
            self._reload_if_changed()
        except BaseException:
            j.rollback()
            raise

    def _reload_if_changed(self) -> None:
        """Under the write lock: reload the state if another process wrote since."""
        version = self._journal.data_version()
        if version != self._version:
            self._register.state = self._journal.load_state()
            self._version = version

    def _run_batch(self, batch: list[tuple[str, dict[str, Any]]]) -> tuple[list[dict[str, Any]], int]:
        """Answer each request of the batch inside the open transaction (each in its own
        savepoint: the rules undo an error answer). Returns the answers and how many
        requests wrote."""
        writes = 0
        answers: list[dict[str, Any]] = []
        now = self.now()  # the batch's time: its requests are answered in the same few milliseconds
        for endpoint, req in batch:
            try:
                answer = self._register.handle(endpoint, req, now, self._rng)
            except Exception:
                log.exception("register %s: internal error on /%s", self.identity.kkt_serial, endpoint[:40])
                answer = error_answer(CashboxCode.INTERNAL, "internal error of the register; nothing was "
                                                            "fiscalized, retry")
            if answer.get("code") == 0 and endpoint not in READ_ONLY:
                writes += 1
            answers.append(answer)
        return answers, writes

    def _commit(self, writes: int) -> None:
        j = self._journal
        if writes:
            j.save_state(self._register.state)
        # Read the version while the write lock is still held: our own commit does not
        # change it, and read after COMMIT it could already include another process's
        # commit, which this register would then never reload (stale state, duplicate ids).
        version = j.data_version()
        t0 = time.perf_counter()
        j.commit()
        self._commit_ema = 0.8 * self._commit_ema + 0.2 * (time.perf_counter() - t0)
        self._version = version
        self._wal_bytes = j.wal_bytes()

    def _checkpoint(self) -> None:
        """Copy the WAL into the database file (from a second connection, in its own
        thread, between two batches: with no write running it copies every frame, so the
        next write starts the WAL over instead of growing it)."""
        try:
            if self._ckpt_journal is None:
                self._ckpt_journal = Journal(self.path)
            self._ckpt_journal.checkpoint()
        except Exception:
            log.exception("register %s: WAL checkpoint failed (retried later)", self.identity.kkt_serial)
        finally:
            self._checkpointing = False

    def _abort(self) -> None:
        """Undo the open batch and reload the state the journal holds."""
        j = self._journal
        j.rollback()
        self._register.state = j.load_state()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._journal.close)
        self._executor.shutdown(wait=True)
        self._ckpt_executor.shutdown(wait=True)
        if self._ckpt_journal is not None:
            self._ckpt_journal.close()


def new_merchant_id() -> str:
    return secrets.token_urlsafe(24)


def env_merchant_id() -> str | None:
    return os.environ.get("KASSAGATE_MERCHANT_ID") or None
