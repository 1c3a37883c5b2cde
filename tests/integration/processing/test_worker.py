"""The worker against real virtual registers and a real database (SQLite and PostgreSQL):
fiscal data recorded, resends recognised, failover, FN states, shifts, retry budget."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import secrets
import time
import zoneinfo
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from kassagate.cashbox.virtual import VirtualRegister, create_register, read_journal, set_fn_state
from kassagate.core.qr import parse_qr
from kassagate.core.states import RequestStatus
from kassagate.metrics import Outcome
from kassagate.processing.mapping import receipt_to_document
from kassagate.processing.registers import RegisterDirectory
from kassagate.processing.service import Processing
from kassagate.processing.worker import ProcessingConfig, Worker
from kassagate.storage import queue
from kassagate.storage.db import Database, open_database
from kassagate.storage.repos import Accounts
from kassagate.storage.request_store import NEW_COLUMNS, NewRequest
from kassagate.storage.schema import callbacks, requests
from support.receipts import VENDING, product, receipt


@dataclass
class Env:
    db: Database
    data_dir: Path
    accounts: Accounts

    async def register(self, *, auto_shift: bool = True, registered: bool = True) -> int:
        kkt_id = await self.accounts.add_kkt(kind="virtual", merchant_id="m-" + secrets.token_hex(8))
        rel = f"registers/kkt-{kkt_id}.sqlite3"
        (self.data_dir / "registers").mkdir(exist_ok=True)
        ident = create_register(self.data_dir / rel, merchant_id="m", registered=registered, auto_shift=auto_shift)
        await self.accounts.update_kkt(
            kkt_id, journal_path=rel, fn_serial=ident.fn_serial, kkt_reg_number=ident.kkt_reg_number
        )
        return kkt_id

    def journal(self, kkt_id: int) -> list[dict[str, Any]]:
        return list(read_journal(self.data_dir / f"registers/kkt-{kkt_id}.sqlite3"))

    def receipts_in_journal(self, kkt_id: int) -> list[dict[str, Any]]:
        return [e for e in self.journal(kkt_id) if e.get("docNumber")]

    async def kassa(self, kassaid: str, kkt_id: int | None, **kw: Any) -> None:
        await self.accounts.add_kassa(kassaid, token="t-" + kassaid, kkt_id=kkt_id, **kw)

    async def request(self, kassaid: str, body: dict[str, Any], *, cluster_id: str | None = None) -> int:
        async with self.db.write_connection() as conn:
            res = await conn.execute(
                insert(requests).values(
                    nuid=f"{secrets.randbelow(10**23):023d}",
                    qnuid=f"{secrets.randbelow(10**23):023d}",
                    mode="cluster" if cluster_id else "kassa",
                    kassaid=kassaid,
                    cluster_id=cluster_id,
                    receipt=json.dumps(body),
                    receipt_hash="0" * 64,
                    check_type=body["itog_arr"]["priznak_rascheta"],
                    debug=False,
                    accepted_at=queue.now_us(),
                    status=0,
                )
            )
            return int(res.inserted_primary_key[0])

    async def row(self, request_id: int) -> Any:
        async with self.db.engine.connect() as conn:
            return (await conn.execute(select(requests).where(requests.c.id == request_id))).one()


@pytest.fixture
async def env(database_url: str, tmp_path: Path) -> AsyncIterator[Env]:
    db = await open_database(database_url)
    try:
        yield Env(db, tmp_path, Accounts(db, secrets.token_bytes(32)))
    finally:
        await db.close()


async def drain(env: Env, config: ProcessingConfig | None = None, rounds: int = 50) -> Worker:
    """Run a worker until nothing is due (retries come due fast in tests)."""
    registers = RegisterDirectory(env.db, env.data_dir)
    worker = Worker.on(env.db, registers, config or ProcessingConfig(retry_base_seconds=0.01, retry_budget=3))
    try:
        for _ in range(rounds):
            batch = await queue.claim(env.db, worker.owner, limit=50, lease_us=60_000_000)
            if not batch:
                async with env.db.engine.connect() as conn:
                    pending = (await conn.execute(select(requests.c.id).where(requests.c.status == 0))).first()
                if pending is None:
                    break
                await asyncio.sleep(0.02)
                continue
            await asyncio.gather(*(worker.process(c) for c in batch))
    finally:
        await registers.close()
    return worker


@pytest.mark.parametrize("sign", [1, 2, 3, 4])
@pytest.mark.parametrize("pay", ["money_nal", "money_electro", "mixed"])
async def test_every_settlement_kind_is_fiscalized_with_matching_journal(env: Env, sign: int, pay: str) -> None:
    kkt = await env.register()
    await env.kassa("1001", kkt)
    body = receipt(sign=sign, pay=pay, products=[product(), product("Sugar", 3667, "1.5", 0, 6)])
    rid = await env.request("1001", body)
    await drain(env)
    row = await env.row(rid)
    assert (row.status, row.error_code) == (RequestStatus.FISCALIZED, None), row.error_text
    [entry] = env.receipts_in_journal(kkt)
    assert entry["docNumber"] == row.nuid and entry["amount"] == body["itog_arr"]["itog_cheka"]
    assert entry["fd"] == row.fd_number
    qr = parse_qr(row.qr)
    assert (qr.fn_serial, qr.fd, qr.total, qr.sign) == (row.fn_serial, row.fd_number, entry["amount"], sign)
    assert qr.fp == int(row.fiscal_sign) == int(entry["fiscalSign"])
    assert row.kkt_reg_number and row.fn_serial and row.shift_number and row.number_in_shift
    assert row.kkt_id == kkt
    # fiscal_dt is microseconds since the epoch; the QR's t= is that instant in the register's zone.
    assert abs(row.fiscal_dt / 1e6 - time.time()) < 120
    local = dt.datetime.fromtimestamp(row.fiscal_dt / 1e6, zoneinfo.ZoneInfo("Europe/Moscow"))
    assert qr.when == local.replace(tzinfo=None, second=0, microsecond=0)


async def test_vending_receipt_carries_its_fields_to_the_register(env: Env) -> None:
    kkt = await env.register()
    await env.kassa("1002", kkt, type="vending")
    rid = await env.request("1002", receipt("1002", vending=VENDING))
    await drain(env)
    assert (await env.row(rid)).status == RequestStatus.FISCALIZED
    assert len(env.receipts_in_journal(kkt)) == 1


async def test_resend_after_a_crash_is_recognised_not_fiscalized_twice(env: Env) -> None:
    kkt = await env.register()
    await env.kassa("1003", kkt)
    rid = await env.request("1003", receipt("1003"))
    # A first worker claims, records the register, sends, and dies before recording the outcome.
    [claimed] = await queue.claim(env.db, "dead", limit=1, lease_us=1)
    assert await queue.record_register(env.db, rid, "dead", kkt)
    doc = receipt_to_document(json.loads(claimed.receipt), nuid=claimed.nuid, accepted_at_us=claimed.accepted_at)
    vr = await VirtualRegister.open(env.data_dir / f"registers/kkt-{kkt}.sqlite3")
    first = await vr.handle(doc.endpoint, doc.body)
    await vr.close()
    assert first["code"] == 0
    await asyncio.sleep(0.01)  # the lease expires
    await drain(env)
    row = await env.row(rid)
    assert row.status == RequestStatus.FISCALIZED
    assert len(env.receipts_in_journal(kkt)) == 1
    assert row.fd_number == int(first["extraParams"]["fdNumber"])


async def test_full_fn_in_kassa_mode_ends_with_340_after_the_budget(env: Env) -> None:
    kkt = await env.register()
    await env.kassa("1004", kkt)
    set_fn_state(env.data_dir / f"registers/kkt-{kkt}.sqlite3", "full")
    rid = await env.request("1004", receipt("1004"))
    await drain(env, ProcessingConfig(retry_base_seconds=0.01, retry_budget=2))
    row = await env.row(rid)
    assert (row.status, row.error_code) == (RequestStatus.FAILED, 340)
    assert row.attempts == 2
    assert (await env.accounts.get_kkt(kkt)).fn_state == "full"  # the intake sees it now


async def test_broken_fn_in_kassa_mode_ends_with_330(env: Env) -> None:
    kkt = await env.register()
    await env.kassa("1005", kkt)
    set_fn_state(env.data_dir / f"registers/kkt-{kkt}.sqlite3", "broken")
    rid = await env.request("1005", receipt("1005"))
    await drain(env, ProcessingConfig(retry_base_seconds=0.01, retry_budget=1))
    assert ((await env.row(rid)).status, (await env.row(rid)).error_code) == (RequestStatus.FAILED, 330)


async def test_fn_replaced_before_the_budget_runs_out_fiscalizes(env: Env) -> None:
    kkt = await env.register()
    await env.kassa("1006", kkt)
    path = env.data_dir / f"registers/kkt-{kkt}.sqlite3"
    set_fn_state(path, "full")
    rid = await env.request("1006", receipt("1006"))
    registers = RegisterDirectory(env.db, env.data_dir)
    worker = Worker.on(env.db, registers, ProcessingConfig(retry_base_seconds=0.01, retry_budget=5))
    [c] = await queue.claim(env.db, worker.owner, limit=1, lease_us=60_000_000)
    await worker.process(c)
    assert (await env.row(rid)).status == RequestStatus.PENDING
    set_fn_state(path, "ok")
    await asyncio.sleep(0.05)
    [c] = await queue.claim(env.db, worker.owner, limit=1, lease_us=60_000_000)
    await worker.process(c)
    await registers.close()
    assert (await env.row(rid)).status == RequestStatus.FISCALIZED


async def test_refused_document_fails_with_60_and_the_cashbox_code(env: Env) -> None:
    kkt = await env.register()
    await env.kassa("1007", kkt)
    bad = receipt("1007")
    bad["itog_arr"]["itog_cheka"] += 1  # passed intake in another life; the register sees the mismatch
    bad["oplata_arr"]["money_electro"] += 1
    rid = await env.request("1007", bad)
    await drain(env)
    row = await env.row(rid)
    assert (row.status, row.error_code) == (RequestStatus.FAILED, 60)
    assert "Cashbox code 4" in row.error_text
    assert env.receipts_in_journal(kkt) == []


async def test_cluster_fails_over_when_a_register_fills_up(env: Env) -> None:
    a, b = await env.register(), await env.register()
    await env.accounts.add_cluster("77", token="ct")
    await env.kassa("2001", a, cluster_id="77")
    await env.kassa("2002", b, cluster_id="77")
    set_fn_state(env.data_dir / f"registers/kkt-{a}.sqlite3", "full")
    ids = [await env.request("2001", receipt("77"), cluster_id="77") for _ in range(4)]
    await drain(env)
    rows = [await env.row(i) for i in ids]
    assert all(r.status == RequestStatus.FISCALIZED for r in rows), [r.error_text for r in rows]
    assert {r.kkt_id for r in rows} == {b} and {r.kassaid for r in rows} == {"2002"}
    assert env.receipts_in_journal(a) == [] and len(env.receipts_in_journal(b)) == 4


async def test_cluster_with_every_fn_down_ends_with_210(env: Env) -> None:
    a = await env.register()
    await env.accounts.add_cluster("78", token="ct")
    await env.kassa("2003", a, cluster_id="78")
    await env.accounts.set_fn_state(a, "broken")
    rid = await env.request("2003", receipt("78"), cluster_id="78")
    await drain(env)
    assert ((await env.row(rid)).error_code) == 210


async def test_cluster_of_the_wrong_kassa_type_ends_with_250(env: Env) -> None:
    a = await env.register()
    await env.accounts.add_cluster("79", token="ct", type="standard")
    await env.kassa("2004", a, cluster_id="79", type="vending")
    rid = await env.request("2004", receipt("79"), cluster_id="79")
    await drain(env)
    assert ((await env.row(rid)).error_code) == 250


async def test_cluster_whose_registers_all_fail_ends_with_240(env: Env) -> None:
    a, b = await env.register(), await env.register()
    await env.accounts.add_cluster("80", token="ct")
    await env.kassa("2005", a, cluster_id="80")
    await env.kassa("2006", b, cluster_id="80")
    # Both FNs break after dispatch (the routing still sees them as ok).
    set_fn_state(env.data_dir / f"registers/kkt-{a}.sqlite3", "broken")
    set_fn_state(env.data_dir / f"registers/kkt-{b}.sqlite3", "full")
    rid = await env.request("2005", receipt("80"), cluster_id="80")
    registers = RegisterDirectory(env.db, env.data_dir)
    worker = Worker.on(env.db, registers, ProcessingConfig(retry_base_seconds=0.01, retry_budget=1))
    [c] = await queue.claim(env.db, worker.owner, limit=1, lease_us=60_000_000)
    await worker.process(c)  # tries a, then b: both refuse; the budget (1) is spent
    await registers.close()
    row = await env.row(rid)
    assert (row.status, row.error_code) == (RequestStatus.FAILED, 240)
    assert {(await env.accounts.get_kkt(k)).fn_state for k in (a, b)} == {"broken", "full"}
    assert env.receipts_in_journal(a) == [] and env.receipts_in_journal(b) == []


async def test_device_mode_register_gets_its_shift_opened(env: Env) -> None:
    kkt = await env.register(auto_shift=False)
    await env.kassa("1008", kkt)
    rid = await env.request("1008", receipt("1008"))
    await drain(env)
    assert (await env.row(rid)).status == RequestStatus.FISCALIZED
    types = [e["type"] for e in env.journal(kkt)]
    assert any("open" in t for t in types), types


async def test_callback_outbox_row_is_written_with_the_end(env: Env) -> None:
    kkt = await env.register()
    await env.kassa("1009", kkt)
    await env.accounts.update_kassa("1009", callback_url="http://127.0.0.1:9/cb", callback_secret="s")
    processing = Processing(env.db, env.data_dir, ProcessingConfig(retry_base_seconds=0.01))
    rid = await env.request("1009", receipt("1009"))
    [c] = await queue.claim(env.db, processing.worker.owner, limit=1, lease_us=60_000_000)
    waiter = asyncio.create_task(processing.wait_finished(rid, 5))
    await processing.worker.process(c)
    assert await waiter
    await processing.registers.close()
    async with env.db.engine.connect() as conn:
        [cb] = (await conn.execute(select(callbacks))).all()
    assert (cb.request_id, cb.url, cb.delivered_at) == (rid, "http://127.0.0.1:9/cb", None)


async def test_no_outbox_row_and_no_sender_wake_without_a_callback_url(env: Env) -> None:
    kkt = await env.register()
    await env.kassa("1019", kkt)
    await env.kassa("1020", kkt)
    await env.accounts.update_kassa("1020", callback_url="http://127.0.0.1:9/cb", callback_secret="s")
    processing = Processing(env.db, env.data_dir, ProcessingConfig(retry_base_seconds=0.01))
    wakes: list[int] = []
    processing.worker.on_callback_queued = lambda: wakes.append(1)
    plain = await env.request("1019", receipt("1019"))
    with_url = await env.request("1020", receipt("1020"))
    claimed = await queue.claim(env.db, processing.worker.owner, limit=2, lease_us=60_000_000)
    await processing.worker.process(next(c for c in claimed if c.id == plain))
    assert wakes == []
    await processing.worker.process(next(c for c in claimed if c.id == with_url))
    assert wakes == [1]
    await processing.registers.close()
    async with env.db.engine.connect() as conn:
        rows = (await conn.execute(select(callbacks.c.request_id))).all()
    assert [r.request_id for r in rows] == [with_url]


async def test_monitor_keeps_fn_state_registration_and_shift_fresh(env: Env) -> None:
    from kassagate.processing.monitor import RegisterMonitor

    kkt = await env.register()
    await env.kassa("1010", kkt)
    await env.accounts.update_kkt(kkt, fn_serial=None, kkt_reg_number=None)  # as a remote one starts
    rid = await env.request("1010", receipt("1010"))
    await drain(env)  # opens the shift (cloud mode)
    assert (await env.row(rid)).status == RequestStatus.FISCALIZED
    set_fn_state(env.data_dir / f"registers/kkt-{kkt}.sqlite3", "broken")
    registers = RegisterDirectory(env.db, env.data_dir)
    monitor = RegisterMonitor(env.db, registers)
    try:
        assert await monitor.check(kkt) == "broken"
    finally:
        await registers.close()
    row = await env.accounts.get_kkt(kkt)
    assert row.fn_state == "broken" and row.registered  # registration learnt from /get_info
    assert 86_000 < monitor.shift_left[kkt] <= 86_400


async def test_monitor_rotates_a_device_mode_shift_before_24_hours(env: Env) -> None:
    from kassagate.processing.monitor import RegisterMonitor

    kkt = await env.register(auto_shift=False)
    path = env.data_dir / f"registers/kkt-{kkt}.sqlite3"
    opened_long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=23, minutes=55)
    vr = await VirtualRegister.open(path, clock=lambda: opened_long_ago)
    assert (await vr.handle("open_shift", {}))["code"] == 0
    assert (await vr.handle("deposit", {"amount": 5000}))["code"] == 0  # cash in the drawer: 27 on close
    await vr.close()
    before = {e["fd"] for e in env.journal(kkt)}
    registers = RegisterDirectory(env.db, env.data_dir)
    monitor = RegisterMonitor(env.db, registers)
    try:
        await monitor.check(kkt)
        info = await (await registers.get(kkt)).client.call("check_shift", {})
    finally:
        await registers.close()
    new = [e for e in env.journal(kkt) if e["fd"] not in before]
    assert [e["type"] for e in new] == ["close_shift", "open_shift"], new
    assert int(info["cash"]) == 0  # withdrawn before the close
    assert str(info["isShiftOpen"]).lower() == "true"
    assert monitor.shift_left[kkt] < 600  # as seen before the rotation


async def test_device_mode_empty_shift_past_24_hours_is_closed_and_the_receipt_fiscalized(env: Env) -> None:
    kkt = await env.register(auto_shift=False)
    await env.kassa("1011", kkt)
    path = env.data_dir / f"registers/kkt-{kkt}.sqlite3"
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(hours=25)
    vr = await VirtualRegister.open(path, clock=lambda: yesterday)
    assert (await vr.handle("open_shift", {}))["code"] == 0
    await vr.close()
    rid = await env.request("1011", receipt("1011"))
    await drain(env)  # 22 -> close (empty but expired) -> open -> resend
    row = await env.row(rid)
    assert row.status == RequestStatus.FISCALIZED, row.error_text
    assert row.shift_number == 2


async def unreachable_register(env: Env) -> int:
    """A remote register at a port where nothing listens (connections are refused)."""
    from support.system import free_port

    return await env.accounts.add_kkt(
        kind="remote",
        url=f"http://127.0.0.1:{free_port()}",
        merchant_id="m",
        fn_serial="9" * 16,
        kkt_reg_number="1" * 16,
    )


async def test_unreachable_register_in_kassa_mode_ends_with_70_after_the_budget(env: Env) -> None:
    kkt = await unreachable_register(env)
    await env.kassa("1012", kkt)
    rid = await env.request("1012", receipt("1012"))
    await drain(env, ProcessingConfig(retry_base_seconds=0.01, retry_budget=3))
    row = await env.row(rid)
    assert (row.status, row.error_code, row.attempts) == (RequestStatus.FAILED, 70, 3)
    assert "could not be reached" in row.error_text


async def test_cluster_fails_over_from_a_register_that_refuses_connections(env: Env) -> None:
    dead, alive = await unreachable_register(env), await env.register()
    await env.accounts.add_cluster("81", token="ct")
    await env.kassa("2007", dead, cluster_id="81")  # lowest kassaid: picked first
    await env.kassa("2008", alive, cluster_id="81")
    rid = await env.request("2007", receipt("81"), cluster_id="81")
    await drain(env)
    row = await env.row(rid)
    assert (row.status, row.kkt_id, row.kassaid) == (RequestStatus.FISCALIZED, alive, "2008")
    assert len(env.receipts_in_journal(alive)) == 1


class FlakyTransport:
    """A register that fails inside (code 5) a few times, then behaves: like a device
    whose storage hiccups. Wraps a real virtual register."""

    def __init__(self, register: VirtualRegister, failures: int) -> None:
        self.register = register
        self.failures = failures
        self.sent: list[str] = []

    async def send(self, endpoint: str, request: dict[str, Any]) -> dict[str, Any]:
        self.sent.append(endpoint)
        if endpoint in ("sale", "refund") and self.failures > 0:
            self.failures -= 1
            return {"status": "error", "code": 5, "message": "internal error", "printError": 0}
        return await self.register.handle(endpoint, request)


async def flaky_worker(
    env: Env, kkt: int, failures: int, budget: int
) -> tuple[Worker, FlakyTransport, VirtualRegister]:
    from kassagate.cashbox.client import CashboxClient

    registers = RegisterDirectory(env.db, env.data_dir)
    handle = await registers.get(kkt)
    vr = await VirtualRegister.open(env.data_dir / f"registers/kkt-{kkt}.sqlite3")
    flaky = FlakyTransport(vr, failures)
    handle.client = CashboxClient(flaky)
    return Worker.on(env.db, registers, ProcessingConfig(retry_base_seconds=0.01, retry_budget=budget)), flaky, vr


async def run_until_ended(env: Env, worker: Worker, rid: int) -> Any:
    for _ in range(50):
        for c in await queue.claim(env.db, worker.owner, limit=5, lease_us=60_000_000):
            await worker.process(c)
        row = await env.row(rid)
        if row.status != RequestStatus.PENDING:
            return row
        await asyncio.sleep(0.02)
    raise AssertionError("the request never ended")


async def test_register_internal_error_is_retried_not_refused(env: Env) -> None:
    kkt = await env.register()
    await env.kassa("1013", kkt)
    rid = await env.request("1013", receipt("1013"))
    worker, flaky, vr = await flaky_worker(env, kkt, failures=2, budget=5)
    try:
        row = await run_until_ended(env, worker, rid)
    finally:
        await worker.registers.close()
        await vr.close()
    assert (row.status, row.error_code) == (RequestStatus.FISCALIZED, None)
    assert flaky.sent.count("sale") == 3
    assert len(env.receipts_in_journal(kkt)) == 1


async def test_register_internal_error_past_the_budget_ends_with_70(env: Env) -> None:
    kkt = await env.register()
    await env.kassa("1014", kkt)
    rid = await env.request("1014", receipt("1014"))
    worker, _flaky, vr = await flaky_worker(env, kkt, failures=99, budget=2)
    try:
        row = await run_until_ended(env, worker, rid)
    finally:
        await worker.registers.close()
        await vr.close()
    assert (row.status, row.error_code) == (RequestStatus.FAILED, 70)
    assert env.receipts_in_journal(kkt) == []


# --------------------------------------------------------------------------- the intake's handover


async def _stored(env: Env, kassaid: str, kkt_id: int, lease: tuple[str, int] | None) -> dict[str, Any]:
    """A request stored as the intake stores it: under ``lease`` (already claimed, one
    attempt counted) or in the queue."""
    rid = await env.request(kassaid, receipt(kassaid))
    values: dict[str, Any] = {"kkt_id": kkt_id}
    if lease is not None:
        values.update(lease_owner=lease[0], lease_until=lease[1], attempts=1)
    async with env.db.write_connection() as conn:
        await conn.execute(requests.update().where(requests.c.id == rid).values(**values))
    return dict((await env.row(rid))._mapping)


def _as_stored(row: dict[str, Any]) -> NewRequest:
    """The stored request the intake hands over."""
    return NewRequest(**{name: row[name] for name in NEW_COLUMNS})


async def test_a_request_stored_claimed_is_processed_without_a_claim(env: Env) -> None:
    kkt = await env.register()
    await env.kassa("1030", kkt)
    # A poll far away: only the handover (or a wake) can get the request processed in time.
    processing = Processing(env.db, env.data_dir, ProcessingConfig(poll_seconds=60, retry_base_seconds=0.01))
    assert processing.lease() is None  # the worker is not running: requests go to the queue
    stop = asyncio.Event()
    processing.start(stop)
    try:
        await asyncio.sleep(0.05)  # the worker's first (empty) claim
        lease = processing.lease()
        assert lease is not None and lease[0] == processing.worker.owner
        assert lease[1] > queue.now_us() + 50_000_000  # the worker's lease (60 s)
        row = await _stored(env, "1030", kkt, lease)
        # Stored under the lease, the request is not due: no claim can take it twice.
        assert await queue.claim(env.db, "someone-else", limit=10, lease_us=1_000_000) == []
        waiter = asyncio.create_task(processing.wait_finished(row["id"], 5))
        processing.accepted(row["id"], _as_stored(row))
        assert await waiter
        done = await env.row(row["id"])
        assert (done.status, done.attempts) == (RequestStatus.FISCALIZED, 1)  # one attempt: the handover's
        assert [e["docNumber"] for e in env.receipts_in_journal(kkt)] == [row["nuid"]]
    finally:
        stop.set()
        await processing.close()
    assert processing.lease() is None  # stopped: nothing more is handed over


async def test_a_request_stored_unclaimed_wakes_the_worker(env: Env) -> None:
    kkt = await env.register()
    await env.kassa("1031", kkt)
    processing = Processing(env.db, env.data_dir, ProcessingConfig(poll_seconds=60, retry_base_seconds=0.01))
    stop = asyncio.Event()
    processing.start(stop)
    try:
        await asyncio.sleep(0.05)
        row = await _stored(env, "1031", kkt, None)  # the worker had no room, say
        waiter = asyncio.create_task(processing.wait_finished(row["id"], 5))
        processing.accepted(row["id"], _as_stored(row))
        assert await waiter  # claimed from the queue at once, not at the next poll
        done = await env.row(row["id"])
        assert (done.status, done.attempts) == (RequestStatus.FISCALIZED, 1)
    finally:
        stop.set()
        await processing.close()


async def test_a_full_worker_leaves_requests_to_the_queue(env: Env) -> None:
    processing = Processing(env.db, env.data_dir, ProcessingConfig(concurrency=1, poll_seconds=60))
    stop = asyncio.Event()
    processing.start(stop)
    try:
        await asyncio.sleep(0.05)
        assert processing.lease() is not None
        blocker = asyncio.Event()
        busy = asyncio.create_task(blocker.wait())
        processing.worker._tasks.add(busy)  # one request in flight: the worker is full
        assert processing.lease() is None
        blocker.set()
        await busy
        processing.worker._tasks.discard(busy)
        assert processing.lease() is not None
    finally:
        stop.set()
        await processing.close()


# --------------------------------------------------------------------------- the lost answer


class LostAnswerTransport:
    """A register whose answer to the first document is lost after the document was
    delivered (a reset connection), and which then refuses connections for ``refusals``
    calls: the fault after which a worker must not fiscalize elsewhere."""

    def __init__(self, register: VirtualRegister, refusals: int, *, lose_first: bool = True) -> None:
        self.register = register
        self.refusals = refusals
        self.lose_first = lose_first
        self.calls: list[str] = []

    async def send(self, endpoint: str, request: dict[str, Any]) -> dict[str, Any]:
        import httpx

        from kassagate.cashbox.client import RegisterUnreachable

        self.calls.append(endpoint)
        if endpoint in ("sale", "refund") and self.lose_first:
            self.lose_first = False
            await self.register.handle(endpoint, request)
            raise RegisterUnreachable("connection reset") from httpx.ReadError("reset by peer")
        if self.refusals > 0:
            self.refusals -= 1
            raise RegisterUnreachable("connection refused") from httpx.ConnectError("refused")
        return await self.register.handle(endpoint, request)


async def faulty_worker(env: Env, kkt: int, transport_of: Any, budget: int) -> tuple[Worker, VirtualRegister]:
    from kassagate.cashbox.client import CashboxClient

    registers = RegisterDirectory(env.db, env.data_dir)
    handle = await registers.get(kkt)
    vr = await VirtualRegister.open(env.data_dir / f"registers/kkt-{kkt}.sqlite3")
    handle.client = CashboxClient(transport_of(vr))
    config = ProcessingConfig(retry_base_seconds=0.01, retry_max_seconds=0.02, retry_budget=budget)
    return Worker.on(env.db, registers, config), vr


async def events_of(env: Env, rid: int) -> list[Any]:
    from kassagate.storage.schema import request_events

    async with env.db.engine.connect() as conn:
        q = select(request_events).where(request_events.c.request_id == rid).order_by(request_events.c.id)
        return list((await conn.execute(q)).all())


@pytest.mark.parametrize("mode", ["kassa", "cluster"])
async def test_a_lost_answer_then_refused_connections_fiscalize_once_where_it_was_sent(env: Env, mode: str) -> None:
    """The register takes the document, its answer is lost, then it refuses connections:
    the request waits for that register (no failover, no failure past the budget) and ends
    with the fiscal data of the one document it holds."""
    first, second = await env.register(), await env.register()
    cluster_id = None
    if mode == "cluster":
        cluster_id = "91"
        await env.accounts.add_cluster(cluster_id, token="ct")
        await env.kassa("2101", first, cluster_id=cluster_id)  # lowest kassaid: picked first
        await env.kassa("2102", second, cluster_id=cluster_id)
    else:
        await env.kassa("2101", first)
    rid = await env.request("2101", receipt("91" if cluster_id else "2101"), cluster_id=cluster_id)
    fault: list[LostAnswerTransport] = []

    def transport(vr: VirtualRegister) -> LostAnswerTransport:
        fault.append(LostAnswerTransport(vr, refusals=6))
        return fault[0]

    worker, vr = await faulty_worker(env, first, transport, budget=2)
    try:
        waited = False
        for _ in range(100):
            for c in await queue.claim(env.db, worker.owner, limit=5, lease_us=60_000_000):
                await worker.process(c)
            row = await env.row(rid)
            if row.status != RequestStatus.PENDING:
                break
            waited = waited or f"waiting for register {first}" in (row.error_text or "")
            await asyncio.sleep(0.03)
    finally:
        await worker.registers.close()
        await vr.close()
    assert (row.status, row.error_code, row.kkt_id) == (RequestStatus.FISCALIZED, None, first), row.error_text
    assert waited, "while the register refused, the request said it was waiting for it"
    assert row.attempts > 2, "the retry budget (2) did not end a request whose document may exist"
    [entry] = env.receipts_in_journal(first)
    assert entry["docNumber"] == row.nuid and entry["fd"] == row.fd_number
    assert env.receipts_in_journal(second) == []
    assert fault[0].calls.count("sale") == 1, "nothing was resent while the outcome was unknown"
    kinds = [e.kind for e in await events_of(env, rid)]
    assert "waiting" in kinds and "failover" not in kinds


@pytest.mark.parametrize("mode", ["kassa", "cluster"])
async def test_a_worker_that_died_after_sending_leaves_the_request_in_doubt(env: Env, mode: str) -> None:
    """A worker wrote the register down, sent the document and died. The next worker,
    facing a register that refuses connections, neither fails over nor fails the request:
    it asks that register until it answers, and takes the document it holds."""
    first, second = await env.register(), await env.register()
    cluster_id = "92" if mode == "cluster" else None
    if cluster_id:
        await env.accounts.add_cluster(cluster_id, token="ct")
        await env.kassa("2201", first, cluster_id=cluster_id)
        await env.kassa("2202", second, cluster_id=cluster_id)
    else:
        await env.kassa("2201", first)
    rid = await env.request("2201", receipt("92" if cluster_id else "2201"), cluster_id=cluster_id)
    # The worker that died: claimed, recorded the register, sent, and never ended it.
    [c] = await queue.claim(env.db, "dead-worker", limit=1, lease_us=1)
    assert await queue.record_register(env.db, c.id, "dead-worker", first)
    vr = await VirtualRegister.open(env.data_dir / f"registers/kkt-{first}.sqlite3")
    doc = receipt_to_document(json.loads(c.receipt), nuid=c.nuid, accepted_at_us=c.accepted_at)
    try:
        assert (await vr.handle(doc.endpoint, doc.body))["code"] == 0
    finally:
        await vr.close()
    await asyncio.sleep(0.01)  # the dead worker's lease expires

    worker, vr = await faulty_worker(env, first, lambda r: LostAnswerTransport(r, 4, lose_first=False), budget=1)
    try:
        for _ in range(100):
            for claimed in await queue.claim(env.db, worker.owner, limit=5, lease_us=60_000_000):
                await worker.process(claimed)
            row = await env.row(rid)
            if row.status != RequestStatus.PENDING:
                break
            await asyncio.sleep(0.03)
    finally:
        await worker.registers.close()
        await vr.close()
    assert (row.status, row.kkt_id) == (RequestStatus.FISCALIZED, first), row.error_text
    assert len(env.receipts_in_journal(first)) == 1
    assert env.receipts_in_journal(second) == []


async def test_a_register_that_refused_the_connection_from_the_start_is_failed_over_at_once(env: Env) -> None:
    """Where nothing can have been delivered, failover stays immediate: one attempt."""
    first, second = await env.register(), await env.register()
    await env.accounts.add_cluster("93", token="ct")
    await env.kassa("2301", first, cluster_id="93")
    await env.kassa("2302", second, cluster_id="93")
    rid = await env.request("2301", receipt("93"), cluster_id="93")
    worker, vr = await faulty_worker(env, first, lambda r: LostAnswerTransport(r, 99, lose_first=False), budget=3)
    try:
        [c] = await queue.claim(env.db, worker.owner, limit=5, lease_us=60_000_000)
        await worker.process(c)
    finally:
        await worker.registers.close()
        await vr.close()
    row = await env.row(rid)
    assert (row.status, row.kkt_id, row.attempts) == (RequestStatus.FISCALIZED, second, 1)
    assert [e.kind for e in await events_of(env, rid)] == ["failover"]


async def test_each_outcome_is_one_line_and_reaches_the_hooks(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    good, broken = await env.register(), await env.register()
    await env.kassa("1090", good)
    await env.kassa("1091", broken)
    set_fn_state(env.data_dir / f"registers/kkt-{broken}.sqlite3", "broken")
    ok = await env.request("1090", receipt("1090"))
    bad = await env.request("1091", receipt("1091"))
    outcomes: list[Outcome] = []
    registers = RegisterDirectory(env.db, env.data_dir)
    worker = Worker.on(env.db, registers, ProcessingConfig(retry_base_seconds=0.01, retry_budget=1),
                    outcomes=[outcomes.append])
    try:
        with caplog.at_level(logging.INFO, logger="kassagate.processing"):
            for _ in range(50):
                batch = await queue.claim(env.db, worker.owner, limit=10, lease_us=60_000_000)
                await asyncio.gather(*(worker.process(c) for c in batch))
                if len(outcomes) == 2:
                    break
                await asyncio.sleep(0.02)
    finally:
        await registers.close()
    got = sorted((o.request_id, o.fiscalized, o.error_code, o.kassaid, o.kkt_id) for o in outcomes)
    assert got == [(ok, True, None, "1090", good), (bad, False, 330, "1091", None)]
    assert all(o.ended_at_us >= o.accepted_at_us for o in outcomes)
    lines = {r.getMessage(): r for r in caplog.records if r.name == "kassagate.processing"}
    assert lines[f"request {ok} fiscalized"].levelno == logging.INFO
    assert lines[f"request {bad} failed with code 330"].levelno == logging.WARNING
    assert lines[f"request {ok} fiscalized"].fields["kassaid"] == "1090"  # type: ignore[attr-defined]
    assert "buyer@example.com" not in caplog.text + str([r.__dict__ for r in caplog.records])
