"""A virtual register behind its ASGI app, called through HTTP (httpx's ASGI transport) with
signed requests exactly as a point-of-sale client sends them, and answers parsed with the
clients' declared types (``support.cashbox_client_schemas``)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec

from kassagate.cashbox.server import create_app
from kassagate.cashbox.virtual import VirtualRegister, create_register
from support.cashbox_client_schemas import Types, parse

MERCHANT_ID = "compat-merchant-0123456789"
MSK = dt.timezone(dt.timedelta(hours=3))
#: What a register sold outside Russia is configured with (AZ 18 %, UZ 12 %, MD 20 % and 8 %, 2 %, 0 %).
FOREIGN_RATES = [2000, 1800, 1200, 800, 200, 0]


def signed_body(request: dict[str, Any], merchant_id: str = MERCHANT_ID) -> bytes:
    """``data=<base64 JSON>&sign=<base64 of the lowercase hex SHA-1 of (data + merchantID)>``,
    each ``=`` written as ``%3D``: computed here from the formula, not with the project's code."""
    data = base64.b64encode(msgspec.json.encode(request)).decode()
    sign = base64.b64encode(hashlib.sha1((data + merchant_id).encode(), usedforsecurity=False).hexdigest().encode())
    return f"data={data.replace('=', '%3D')}&sign={sign.decode().replace('=', '%3D')}".encode()


@dataclass
class Clock:
    now: dt.datetime = field(default_factory=lambda: dt.datetime(2026, 3, 2, 9, 0, tzinfo=MSK))

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += dt.timedelta(**kw)


@dataclass
class Register:
    http: httpx.AsyncClient
    path: Path
    clock: Clock
    types: Types

    async def raw(self, endpoint: str, request: dict[str, Any], content_type: str = "text/plain") -> bytes:
        r = await self.http.post(f"/{endpoint}", content=signed_body(request), headers={"content-type": content_type})
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json"), r.text
        return r.content

    async def call(self, endpoint: str, request: dict[str, Any], types: Types | None = None) -> Any:
        """The answer parsed with the declared types (``types``, default the register's client)."""
        return parse(endpoint, await self.raw(endpoint, request), types or self.types)

    async def ok(self, endpoint: str, request: dict[str, Any]) -> Any:
        a = await self.call(endpoint, request)
        assert a.code == 0, (endpoint, a)
        return a

    async def json(self, endpoint: str, request: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = msgspec.json.decode(await self.raw(endpoint, request))
        return out


async def open_register(tmp_path: Path, types: Types = Types(), **create: Any) -> AsyncIterator[Register]:
    clock = Clock()
    path = tmp_path / "register.sqlite3"
    create.setdefault("shift_id_type", "int" if types.shift_id is int else "string")
    create.setdefault("fiscal_id_type", "int" if types.fiscal_id is int else "string")
    create_register(path, merchant_id=MERCHANT_ID, now=clock.now - dt.timedelta(days=1), **create)
    register = await VirtualRegister.open(path, clock=clock)
    transport = httpx.ASGITransport(app=create_app(register))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://register") as http:
            yield Register(http, path, clock, types)
    finally:
        await register.close()
