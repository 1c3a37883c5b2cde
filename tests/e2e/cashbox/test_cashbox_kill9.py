"""kill -9: a standalone register (``kassagate cashbox``) under concurrent signed /sale load is
killed and restarted several times; its journal has no FD gap, no duplicate, and every
sale that got an answer is in it with the answered fiscal data."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from kassagate.cashbox.client import CashboxClient, HttpTransport, RegisterUnreachable
from kassagate.cashbox.journal import Journal
from kassagate.cashbox.virtual import read_journal
from kassagate.core.fn import verify_receipt
from support.cashbox import free_port

pytestmark = pytest.mark.slow

MID = "kill9-merchant"
ROUNDS = 4


def start(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).parent / "kassagate"
    env = {**os.environ, "KASSAGATE_MERCHANT_ID": MID, "KASSAGATE_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([str(exe), "cashbox", "--data-dir", str(data_dir), "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def wait_ready(client: CashboxClient, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the register exited"
        try:
            if (await client.get_info()).ok:
                return
        except RegisterUnreachable:
            await asyncio.sleep(0.05)
    raise AssertionError("the register did not start")


def doc(ext: str) -> dict[str, Any]:
    return {"amount": 1000, "items": [{"itemName": "x", "itemQty": 1000, "itemAmount": 1000}],
            "payments": {"cashAmount": 1000}, "documentExtID": ext}


async def test_kill_9_under_load(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    answered: dict[str, str] = {}  # documentExtID -> fiscalNum (the FD number)
    unanswered: set[str] = set()
    rng = random.Random(9)
    counter = 0
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=32)) as http:
        client = CashboxClient(HttpTransport(f"http://127.0.0.1:{port}", MID, timeout=5, client=http))
        for _ in range(ROUNDS):
            proc = start(data_dir, port)
            try:
                await wait_ready(client, proc)
                # resend what got no answer last time: it must not be fiscalized twice
                pending = list(unanswered)
                unanswered.clear()

                async def worker(pending: list[str]) -> None:
                    nonlocal counter
                    while True:
                        if pending:
                            ext = pending.pop()
                        else:
                            counter += 1
                            ext = f"s{counter}"
                        try:
                            a = await client.sale(doc(ext))
                        except RegisterUnreachable:
                            unanswered.add(ext)
                            return
                        assert a.ok, a
                        if ext in answered:
                            assert answered[ext] == a.fiscal_num
                        answered[ext] = a.fiscal_num  # the FD number (fiscalID is it in 12 digits)

                tasks = [asyncio.create_task(worker(pending)) for _ in range(24)]
                await asyncio.sleep(rng.uniform(0.4, 1.0))
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
                await asyncio.gather(*tasks)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)
    assert len(answered) > 50, "too little load to mean anything"
    lines = list(read_journal(data_dir / "cashbox.sqlite3"))
    fds = [x["fd"] for x in lines if x["fd"] is not None]
    assert fds == list(range(1, len(fds) + 1)), "FD gap or reuse"
    sales = [x for x in lines if x["type"] == "sale"]
    exts = [x["documentExtID"] for x in sales]
    assert len(exts) == len(set(exts)), "a sale was fiscalized twice"
    by_ext = {x["documentExtID"]: str(x["fd"]) for x in sales}
    for ext, fiscal_id in answered.items():
        assert by_ext.get(ext) == fiscal_id, f"answered sale {ext} is not in the journal as answered"
    # no half document: every sale is whole and its fiscal sign verifies under the FN key
    journal = Journal(data_dir / "cashbox.sqlite3")
    fn = journal.load_state().fn
    journal.close()
    assert fn is not None
    for x in sales:
        when = dt.datetime.strptime(x["time"], "%Y-%m-%d %H:%M:%S")
        assert x["amount"] == 1000 and x["settlementSign"] == 1 and x["docStatus"] == 1
        assert verify_receipt(fn.key, fn_serial=fn.serial, fd=x["fd"], when=when, total=1000, sign=1,
                              fp=x["fiscalSign"])
