"""Helpers of the e2e register tests: a virtual register served over real HTTP (uvicorn on a
free port, in the test's loop) with a clock the test moves, and document builders."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from kassagate.cashbox.server import create_app
from kassagate.cashbox.virtual import VirtualRegister, create_register
from kassagate.cashbox.wire import encode_request
from support.system import free_port

MERCHANT_ID = "test-merchant-0123456789"

MSK = dt.timezone(dt.timedelta(hours=3))


@dataclass
class Clock:
    now: dt.datetime = field(default_factory=lambda: dt.datetime(2026, 3, 2, 10, 0, tzinfo=MSK))

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += dt.timedelta(**kw)


@dataclass
class Served:
    url: str
    path: Path
    register: VirtualRegister
    clock: Clock
    http: httpx.AsyncClient

    async def post(self, endpoint: str, body: bytes, content_type: str = "application/x-www-form-urlencoded"
                   ) -> dict[str, Any]:
        r = await self.http.post(f"{self.url}/{endpoint}", content=body, headers={"content-type": content_type})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/json")
        out = r.json()
        assert isinstance(out["code"], int)
        assert out["status"] == ("success" if out["code"] == 0 else "error")
        return out

    async def call(self, endpoint: str, req: dict[str, Any], merchant_id: str = MERCHANT_ID) -> dict[str, Any]:
        return await self.post(endpoint, encode_request(req, merchant_id))


async def serve(tmp_path: Path, **create: Any) -> AsyncIterator[Served]:
    clock = Clock()
    path = tmp_path / "register.sqlite3"
    create_register(path, merchant_id=MERCHANT_ID, now=clock.now - dt.timedelta(days=1), **create)
    register = await VirtualRegister.open(path, clock=clock)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(register), host="127.0.0.1", port=port, loop="none",
                                           lifespan="off", log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event)
        await asyncio.sleep(0.01)
    async with httpx.AsyncClient(timeout=10) as http:
        try:
            yield Served(f"http://127.0.0.1:{port}", path, register, clock, http)
        finally:
            server.should_exit = True
            await task
            await register.close()


def item(name: str = "Coffee", qty: int = 1000, amount: int = 10000, **kw: Any) -> dict[str, Any]:
    return {"itemName": name, "itemQty": qty, "itemAmount": amount, **kw}


def sale(amount: int = 10000, pay: dict[str, int] | None = None, **kw: Any) -> dict[str, Any]:
    return {"amount": amount, "items": [item(amount=amount)], "payments": pay or {"cashAmount": amount}, **kw}


@contextlib.contextmanager
def served_in_thread(path: Path) -> Iterator[str]:
    """Serve the register at ``path`` from a thread with its own event loop (for sync tests)."""
    port = free_port()
    holder: dict[str, uvicorn.Server] = {}
    ready = threading.Event()

    async def main() -> None:
        register = await VirtualRegister.open(path)
        server = uvicorn.Server(uvicorn.Config(create_app(register), host="127.0.0.1", port=port, loop="none",
                                               lifespan="off", log_level="warning", access_log=False))
        holder["server"] = server
        task = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event)
            await asyncio.sleep(0.01)
        ready.set()
        await task
        await register.close()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(20), "the register server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        holder["server"].should_exit = True
        thread.join(20)
