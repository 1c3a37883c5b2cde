"""A lost answer between the worker and a remote register, with real processes.

``kassagate cashbox`` is the remote register, reached through a fault-injecting TCP proxy
(``support.faultproxy``); ``kassagate serve`` runs the intake and the worker, on SQLite or
PostgreSQL. The register fiscalizes the first receipt, the proxy resets the connection
instead of passing its answer on, then refuses connections for a few seconds, then passes
everything. In cluster mode a second kassa, on a virtual register, is there to fail over
to. Afterwards the receipt is fiscalized, with the fiscal data of the one document the
remote register holds, and no other register holds it.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kassagate.cashbox.virtual import read_journal
from kassagate.client import AsyncKassaClient
from support.faultproxy import FaultProxy
from support.receipts import receipt
from support.system import Process, free_port, kassagate_env, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

MERCHANT_ID = "lost-answer-merchant"
REFUSE_SECONDS = 4.0


def fiscalized(body: bytes) -> bool:
    try:
        return json.loads(body).get("code") == 0
    except ValueError:
        return False


@pytest.fixture
async def register(tmp_path: Path) -> AsyncIterator[tuple[int, Path]]:
    """A standalone register process; yields its port and its data dir."""
    data = tmp_path / "register"
    port = free_port()
    env = {**os.environ, "KASSAGATE_MERCHANT_ID": MERCHANT_ID, "KASSAGATE_LOG_LEVEL": "WARNING"}
    proc = Process(["cashbox", "--data-dir", str(data), "--port", str(port)], env=env,
                   ready_url=f"http://127.0.0.1:{port}/", log_path=tmp_path / "cashbox.log")
    await asyncio.to_thread(proc.start)
    try:
        yield port, data
    finally:
        proc.stop()


def remote_receipts(data: Path) -> list[dict[str, Any]]:
    return [e for e in read_journal(data / "cashbox.sqlite3") if e.get("docNumber")]


@pytest.mark.parametrize("mode", ["kassa", "cluster"])
async def test_lost_answer_then_refused_connections(
    mode: str, register: tuple[int, Path], database_url: str, tmp_path: Path
) -> None:
    register_port, register_data = register
    proxy = await FaultProxy(register_port).start()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = kassagate_env(
        data_dir,
        KASSAGATE_DATABASE_URL=database_url,
        KASSAGATE_RETRY_BASE_SECONDS="0.2",
        KASSAGATE_RETRY_MAX_SECONDS="1",
        KASSAGATE_RETRY_BUDGET="2",  # spent long before the register answers again
    )
    cli = lambda *a: run_cli(*a, data_dir=data_dir, env=env)  # noqa: E731
    remote = ["--kkt", proxy.url, "--merchant-id", MERCHANT_ID]
    if mode == "cluster":
        await asyncio.to_thread(cli, "cluster", "add", "77", "--token", "cluster-token-77")
        await asyncio.to_thread(cli, "kassa", "add", "7701", "--token", "tok-7701-secret01", "--cluster", "77", *remote)
        await asyncio.to_thread(cli, "kassa", "add", "7702", "--token", "tok-7702-secret01", "--cluster", "77")
        kassaid, token, cluster = "77", "cluster-token-77", True
    else:
        await asyncio.to_thread(cli, "kassa", "add", "7701", "--token", "tok-7701-secret01", *remote)
        kassaid, token, cluster = "7701", "tok-7701-secret01", False
    port = free_port()
    serve = Process(["serve", "--port", str(port)], env=env, ready_url=f"http://127.0.0.1:{port}/v1/keys",
                    log_path=tmp_path / "serve.log")
    await asyncio.to_thread(serve.start, 120)
    try:
        proxy.lose_next("/sale", when=fiscalized, refuse_seconds=REFUSE_SECONDS)
        async with AsyncKassaClient(f"http://127.0.0.1:{port}", kassaid=kassaid, kassatoken=token,
                                    cluster=cluster) as k:
            answer = await k.send(receipt(kassaid, token), rid="lost-answer-1")
            assert answer.accepted, answer
            waiting_seen = False
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                st = await k.get_status(answer.nuid, answer.qnuid)
                if st.check_status != 0:
                    break
                waiting_seen = waiting_seen or "waiting for register" in (st.error_text or "")
                await asyncio.sleep(0.1)
    finally:
        serve.stop()
        await proxy.close()
    assert proxy.lost == 1, "the fault was injected"
    assert st.check_status == 1, (st.check_status, st.error_code, st.error_text, serve.log())
    assert waiting_seen, "while the register refused, the status said the request waits for it"
    [entry] = [e for e in remote_receipts(register_data) if e["docNumber"] == answer.nuid]
    assert (st.check_num_fd, int(st.check_num_fp)) == (entry["fd"], int(entry["fiscalSign"]))
    assert len(remote_receipts(register_data)) == 1
    if mode == "cluster":
        other = run_cli("kkt", "journal", "7702", data_dir=data_dir, env=env).stdout
        assert answer.nuid not in other, "the receipt was fiscalized on a second register"
