"""The registers processing talks to, each behind one ``CashboxClient``: the project's own
virtual registers in-process (``InProcessTransport``), remote ones over HTTP
(``HttpTransport``). Which one a KKT is comes from its ``kkts`` row.
"""

from __future__ import annotations

import asyncio
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

import httpx

from kassagate.cashbox.client import LIMITS, CashboxClient, HttpTransport, InProcessTransport, RegisterUnreachable
from kassagate.cashbox.virtual import VirtualRegister
from kassagate.storage.db import Database
from kassagate.storage.repos import Accounts, Kkt

#: The zone of a register that does not say (``/get_info`` without ``timezone``).
DEFAULT_REGISTER_TIMEZONE = "Europe/Moscow"


class UnknownRegister(LookupError):
    pass


def _zone(name: object) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(str(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(DEFAULT_REGISTER_TIMEZONE)


@dataclass
class RegisterHandle:
    kkt_id: int
    kind: str
    client: CashboxClient
    fn_serial: str | None
    kkt_reg_number: str | None
    updated_at: int
    #: The zone of the register's local times (``docTime``, ``shiftOpenAt``).
    tz: zoneinfo.ZoneInfo
    #: Serialises shift rotation with the documents this process sends to the register.
    lock: asyncio.Lock


class RegisterDirectory:
    def __init__(self, db: Database, data_dir: Path, *, http_timeout: float = 10.0) -> None:
        self._db = db
        self._data_dir = data_dir
        self._http = httpx.AsyncClient(timeout=http_timeout, limits=LIMITS)
        self._http_timeout = http_timeout
        self._handles: dict[int, RegisterHandle] = {}
        self._virtual: dict[int, VirtualRegister] = {}
        self._opening = asyncio.Lock()

    @property
    def data_dir(self) -> Path:
        """Where the virtual registers' journals live (``Kkt.journal_file``)."""
        return self._data_dir

    async def row(self, kkt_id: int) -> Kkt:
        kkt = await Accounts(self._db).get_kkt(kkt_id)
        if kkt is None:
            raise UnknownRegister(f"no register with id {kkt_id}")
        return kkt

    async def get(self, kkt_id: int) -> RegisterHandle:
        handle = self._handles.get(kkt_id)
        if handle is not None:
            return handle
        async with self._opening:
            handle = self._handles.get(kkt_id)
            if handle is None:
                handle = await self._open(await self.row(kkt_id))
                self._handles[kkt_id] = handle
        return handle

    async def refresh(self, kkt_id: int) -> RegisterHandle:
        """Reopen a register whose row changed (a new URL, a new merchant ID)."""
        async with self._opening:
            old = self._handles.pop(kkt_id, None)
            vr = self._virtual.pop(kkt_id, None)
            if vr is not None:
                await vr.close()
            handle = await self._open(await self.row(kkt_id))
            if old is not None:
                handle.lock = old.lock
            self._handles[kkt_id] = handle
        return handle

    async def _open(self, row: Kkt) -> RegisterHandle:
        path = row.journal_file(self._data_dir)
        if path is not None:
            vr = await VirtualRegister.open(path)
            self._virtual[row.id] = vr
            client = CashboxClient(InProcessTransport(vr))
        else:
            transport = HttpTransport(row.url, row.merchant_id or "", timeout=self._http_timeout, client=self._http)
            client = CashboxClient(transport)
        tz_name: object = DEFAULT_REGISTER_TIMEZONE
        try:
            info = await client.call("get_info", {})
            tz_name = info.get("timezone") or DEFAULT_REGISTER_TIMEZONE
        except RegisterUnreachable:
            pass  # a remote register that is down now: its documents will wait anyway
        return RegisterHandle(
            kkt_id=row.id,
            kind=row.kind,
            client=client,
            fn_serial=row.fn_serial,
            kkt_reg_number=row.kkt_reg_number,
            updated_at=row.updated_at,
            tz=_zone(tz_name),
            lock=asyncio.Lock(),
        )

    def virtual(self, kkt_id: int) -> VirtualRegister | None:
        return self._virtual.get(kkt_id)

    async def close(self) -> None:
        for vr in self._virtual.values():
            await vr.close()
        self._virtual.clear()
        self._handles.clear()
        await self._http.aclose()
