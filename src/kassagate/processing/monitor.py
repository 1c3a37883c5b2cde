"""Keeps an eye on the registers between documents.

It asks each register for ``/get_info`` when the register is due (every few seconds
while something happens on it, less and less often while it stays idle and healthy) and

- writes the FN state it sees into ``kkts.fn_state`` (what the intake's codes 330, 340 and
  200 and the cluster routing read), so that a register whose FN filled up, broke or was
  blocked by the 30-day rule stops receiving receipts within seconds;
- closes and reopens the shift of a *device-mode* register (``autoShift`` false) before its
  24 hours run out. Cloud-mode registers (the virtual ones by default) rotate their shift
  themselves before the document that would cross the limit.

Rotation holds the register's lock only for the close and open calls, so receipts wait
milliseconds at most; a document that meets the closed shift meanwhile gets code 6 and the
worker opens the shift itself.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from kassagate.cashbox.client import CashboxClient, RegisterUnreachable
from kassagate.cashbox.journal import journal_stamp
from kassagate.cashbox.virtual import read_state, state_info
from kassagate.core.codes import CashboxCode
from kassagate.core.register.clock import TIME_FORMAT, zone
from kassagate.core.register.model import RegisterState
from kassagate.core.states import FnState
from kassagate.core.tables import SHIFT_MAX_DURATION
from kassagate.metrics import RegisterReading
from kassagate.processing.registers import RegisterDirectory, RegisterHandle
from kassagate.processing.routing import SHIFT_MARGIN_SECONDS
from kassagate.storage.db import Database
from kassagate.storage.registers import RegisterRows
from kassagate.storage.repos import Kkt

log = logging.getLogger("kassagate.monitor")


def shift_age(shift_open_at: str | None, now: dt.datetime) -> dt.timedelta | None:
    if not shift_open_at:
        return None
    try:
        opened = dt.datetime.strptime(shift_open_at, TIME_FORMAT)
    except ValueError:
        return None
    return now - opened


def needs_rotation(info: dict[str, Any], now: dt.datetime, before: dt.timedelta) -> bool:
    """A device-mode register whose open shift is within ``before`` of its 24 hours."""
    if info.get("autoShift") in (True, "true"):
        return False
    if str(info.get("isShiftOpen")).lower() != "true":
        return False
    age = shift_age(info.get("shiftOpenAt"), now)
    return age is not None and age >= SHIFT_MAX_DURATION - before


async def rotate_shift(client: CashboxClient, *, close_first: bool) -> None:
    """Open the shift; with ``close_first``, close the current one (Z report) before. Open
    orders are carried over (``renew``); cash left in the drawer is withdrawn first when
    the register insists (code 27), since a cloud register's drawer holds no real cash."""
    if close_first:
        closed = await client.call("close_shift", {"openOrdersOperation": "renew"})
        if int(closed.get("code", 5)) == 27:
            shift = await client.call("check_shift", {})
            cash = int(shift.get("cash") or 0)
            if cash > 0:
                await client.call("withdraw", {"amount": cash})
            await client.call("close_shift", {"openOrdersOperation": "renew"})
    await client.call("open_shift", {})


async def ask_register(db: Database, handle: RegisterHandle) -> dict[str, Any] | None:
    """The register's ``/get_info``, recorded in its ``kkts`` row: the FN state (what the
    intake's codes 330, 340 and 200 and the routing read) and, for a remote register, its
    fiscal registration (code 50). ``None`` when the register cannot answer."""
    try:
        info = await handle.client.call("get_info", {})
    except RegisterUnreachable:
        return None
    if int(info.get("code", CashboxCode.INTERNAL)) != CashboxCode.OK:
        return None
    await RegisterRows(db).record(handle.kkt_id, info)
    return info


@dataclass
class _Seen:
    """What the monitor knows of one register between its checks."""

    due: float = 0.0  # (monotonic) when to check it next
    wait: float = 0.0  # the pause after its last check (doubles while nothing happens)
    last_fd: Any = None  # ``lastFdNumber`` at the last check: a change is activity
    state: RegisterState | None = None  # a virtual register not open here: its state as read
    stamp: tuple[int, ...] = ()  # a virtual register: its journal's stamp at the last check


@dataclass
class RegisterMonitor:
    """Checks each register when it is due: every ``interval`` while something happens on
    it (documents, an FN or registration that is not healthy, an unreachable register, a
    shift near its rotation), backing off to ``max_interval`` while it stays idle and
    healthy; a virtual register whose journal changed (a ``stat`` of its files tells:
    documents, a fault set by another process) is due at once. A virtual register of this
    process that nothing has opened is not opened: its state is read from its journal when
    the journal changed, and its ``/get_info`` computed from it."""

    db: Database
    registers: RegisterDirectory
    interval: float = 2.0
    max_interval: float = 30.0
    rotate_before: dt.timedelta = dt.timedelta(minutes=10)
    #: Called with what each ``/get_info`` told (metrics); errors are logged, never raised.
    observers: list[Callable[[RegisterReading], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        #: kkt id -> seconds left in its open shift, as last seen (routing avoids the ones ending).
        self.shift_left: dict[int, float] = {}
        self._seen: dict[int, _Seen] = {}
        self._rows = RegisterRows(self.db)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.check_due()
            except Exception:
                log.exception("register check round failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
            except TimeoutError:
                pass

    async def check_all(self) -> None:
        """Check every register now."""
        rows = await self._rows.all()
        await asyncio.gather(*(self._check(row) for row in rows))

    async def check_due(self) -> None:
        """Check the registers that are due, and the virtual ones whose journal changed."""
        rows = await self._rows.all()
        now = time.monotonic()
        due = []
        for row in rows:
            seen = self._seen.get(row.id)
            if seen is None or seen.due <= now:
                due.append(row)
            elif seen.stamp:  # a virtual register: did its journal change (documents, a fault)?
                path = row.journal_file(self.registers.data_dir)
                if path is not None and journal_stamp(path) != seen.stamp:
                    due.append(row)
        known = {row.id for row in rows}
        for kkt_id in [k for k in self._seen if k not in known]:  # deleted registers
            del self._seen[kkt_id]
            self.shift_left.pop(kkt_id, None)
        await asyncio.gather(*(self._check(row) for row in due))

    async def check(self, kkt_id: int) -> str | None:
        """One register, now: store its FN state, rotate its shift if due. Returns the FN state."""
        try:
            row = await self.registers.row(kkt_id)
        except Exception as exc:
            log.warning("register %s: cannot be checked (%s)", kkt_id, type(exc).__name__)
            self._observe(RegisterReading(kkt_id, None, dt.datetime.now()))
            return None
        return await self._check(row)

    def _unopened(self, row: Kkt) -> Path | None:
        """The journal of a virtual register that this process has not opened."""
        if self.registers.virtual(row.id) is not None:
            return None
        return row.journal_file(self.registers.data_dir)

    async def _check(self, row: Kkt) -> str | None:
        kkt_id = row.id
        seen = self._seen.setdefault(kkt_id, _Seen())
        try:
            path = self._unopened(row)
            if path is not None:
                info, tz = await self._peek(row, path, seen)
            else:
                seen.state = None
                journal = row.journal_file(self.registers.data_dir)
                seen.stamp = () if journal is None else journal_stamp(journal)
                handle = await self.registers.get(kkt_id)
                info, tz = await ask_register(self.db, handle), handle.tz
        except Exception as exc:
            log.warning("register %s: cannot be checked (%s)", kkt_id, type(exc).__name__)
            self._observe(RegisterReading(kkt_id, None, dt.datetime.now()))
            self._schedule(seen, None, None)
            return None
        now = dt.datetime.now(tz).replace(tzinfo=None)
        self._observe(RegisterReading(kkt_id, info, now))
        if info is None:
            self._schedule(seen, None, None)
            return None
        state = info.get("fnState")
        age = shift_age(info.get("shiftOpenAt"), now) if str(info.get("isShiftOpen")).lower() == "true" else None
        if age is None:
            self.shift_left.pop(kkt_id, None)
        else:
            self.shift_left[kkt_id] = (SHIFT_MAX_DURATION - age).total_seconds()
        if needs_rotation(info, now, self.rotate_before):
            handle = await self.registers.get(kkt_id)
            async with handle.lock:
                log.info("register %s: closing and reopening the shift before its 24 hours", kkt_id)
                await rotate_shift(handle.client, close_first=True)
            self._schedule(seen, None, None)  # look again soon: the new shift, the FN
        else:
            self._schedule(seen, info, age)
        return state if isinstance(state, str) else None

    async def _peek(self, row: Kkt, path: Path, seen: _Seen) -> tuple[dict[str, Any] | None, ZoneInfo]:
        """``/get_info`` of a virtual register not open here, from its journal's state (read
        again only when the journal changed), recorded in its row as ``ask_register`` does."""
        stamp = journal_stamp(path)
        if seen.state is None or stamp != seen.stamp:
            seen.state = await asyncio.to_thread(read_state, path)
            seen.stamp = stamp
        info = state_info(seen.state)
        await self._rows.record(row.id, info, row=row)
        return info, zone(seen.state.timezone)

    def _schedule(self, seen: _Seen, info: dict[str, Any] | None, age: dt.timedelta | None) -> None:
        """When to check the register next: soon after anything happened, later and later
        while it stays healthy and idle, and before its shift needs rotating."""
        quiet = (info is not None and info.get("fnState") == FnState.OK and not info.get("warnings")
                 and info.get("registered") in (True, "true") and not info.get("unsentCount")
                 and seen.last_fd is not None and info.get("lastFdNumber") == seen.last_fd)
        seen.last_fd = None if info is None else info.get("lastFdNumber")
        wait = min(max(seen.wait * 2, self.interval), self.max_interval) if quiet else self.interval
        if info is not None and age is not None:
            # seen again before the routing counts its shift as ending, and (device mode)
            # before the shift needs rotating
            left = (SHIFT_MAX_DURATION - age).total_seconds()
            if left > SHIFT_MARGIN_SECONDS:
                wait = min(wait, max(left - SHIFT_MARGIN_SECONDS, self.interval))
            if info.get("autoShift") not in (True, "true"):
                rotate_in = (SHIFT_MAX_DURATION - self.rotate_before - age).total_seconds()
                wait = min(wait, max(rotate_in, self.interval))
        seen.wait = wait
        seen.due = time.monotonic() + wait

    def _observe(self, reading: RegisterReading) -> None:
        for observer in self.observers:
            try:
                observer(reading)
            except Exception:
                log.exception("an observer of register %s failed", reading.kkt_id)
