"""Keeps an eye on the registers between documents.

Every few seconds it asks each register for ``/get_info`` and

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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select, update

from kassagate.cashbox.client import CashboxClient, RegisterUnreachable
from kassagate.core.tables import SHIFT_MAX_DURATION
from kassagate.metrics import RegisterReading
from kassagate.processing.registers import RegisterDirectory, RegisterHandle
from kassagate.storage.db import Database
from kassagate.storage.queue import now_us
from kassagate.storage.schema import kkts

log = logging.getLogger("kassagate.monitor")


def shift_age(shift_open_at: str | None, now: dt.datetime) -> dt.timedelta | None:
    if not shift_open_at:
        return None
    try:
        opened = dt.datetime.strptime(shift_open_at, "%Y-%m-%d %H:%M:%S")
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
    if int(info.get("code", 5)) != 0:
        return None
    values: dict[str, Any] = {}
    if isinstance(info.get("fnState"), str):
        values["fn_state"] = info["fnState"]
    if info.get("registered") in (True, "true"):
        for column, key in (("fn_serial", "fnNumber"), ("kkt_reg_number", "kktRegNumber")):
            if info.get(key):
                values[column] = str(info[key])
    elif info.get("registered") in (False, "false"):
        values.update(fn_serial=None, kkt_reg_number=None)
    if values:
        changed = or_(*(kkts.c[c].is_distinct_from(v) for c, v in values.items()))
        async with db.write_connection() as conn:
            await conn.execute(
                update(kkts).where(kkts.c.id == handle.kkt_id, changed).values(**values, updated_at=now_us())
            )
    return info


@dataclass
class RegisterMonitor:
    db: Database
    registers: RegisterDirectory
    interval: float = 2.0
    rotate_before: dt.timedelta = dt.timedelta(minutes=10)
    #: Called with what each ``/get_info`` told (metrics); errors are logged, never raised.
    observers: list[Callable[[RegisterReading], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        #: kkt id -> seconds left in its open shift, as last seen (routing avoids the ones ending).
        self.shift_left: dict[int, float] = {}

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.check_all()
            except Exception:
                log.exception("register check round failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
            except TimeoutError:
                pass

    async def check_all(self) -> None:
        async with self.db.engine.connect() as conn:
            ids = [r[0] for r in await conn.execute(select(kkts.c.id))]
        await asyncio.gather(*(self.check(kkt_id) for kkt_id in ids))

    async def check(self, kkt_id: int) -> str | None:
        """One register: store its FN state, rotate its shift if due. Returns the FN state."""
        try:
            handle = await self.registers.get(kkt_id)
            info = await ask_register(self.db, handle)
        except Exception as exc:
            log.warning("register %s: cannot be checked (%s)", kkt_id, type(exc).__name__)
            self._observe(RegisterReading(kkt_id, None, dt.datetime.now()))
            return None
        now = dt.datetime.now(handle.tz).replace(tzinfo=None)
        self._observe(RegisterReading(kkt_id, info, now))
        if info is None:
            return None
        state = info.get("fnState")
        age = shift_age(info.get("shiftOpenAt"), now) if str(info.get("isShiftOpen")).lower() == "true" else None
        if age is None:
            self.shift_left.pop(kkt_id, None)
        else:
            self.shift_left[kkt_id] = (SHIFT_MAX_DURATION - age).total_seconds()
        if needs_rotation(info, now, self.rotate_before):
            async with handle.lock:
                log.info("register %s: closing and reopening the shift before its 24 hours", kkt_id)
                await rotate_shift(handle.client, close_first=True)
        return state if isinstance(state, str) else None

    def _observe(self, reading: RegisterReading) -> None:
        for observer in self.observers:
            try:
                observer(reading)
            except Exception:
                log.exception("an observer of register %s failed", reading.kkt_id)
