"""The register monitor's cost follows what happens, not how many registers there are: an
idle healthy register is asked less and less often, a change brings it back at once, a
virtual register nothing has opened stays closed, and what a check writes is written
only when it differs."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kassagate.cashbox.virtual import create_register, set_fn_state
from kassagate.metrics import RegisterReading
from kassagate.processing.monitor import RegisterMonitor
from kassagate.processing.registers import RegisterDirectory
from kassagate.storage.db import Database, open_database
from kassagate.storage.registers import RegisterRows
from kassagate.storage.repos import Accounts


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = await open_database(database_url)
    try:
        yield database
    finally:
        await database.close()


async def add_register(db: Database, data_dir: Path) -> int:
    accounts = Accounts(db, secrets.token_bytes(32))
    kkt_id = await accounts.add_kkt(kind="virtual", merchant_id="m-" + secrets.token_hex(8))
    rel = f"registers/kkt-{kkt_id}.sqlite3"
    (data_dir / "registers").mkdir(exist_ok=True)
    ident = create_register(data_dir / rel, merchant_id="m")
    await accounts.update_kkt(kkt_id, journal_path=rel, fn_serial=ident.fn_serial,
                              kkt_reg_number=ident.kkt_reg_number)
    return kkt_id


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors through /proc")
async def test_idle_registers_back_off_stay_closed_and_come_back_on_a_change(db: Database, tmp_path: Path) -> None:
    ids = [await add_register(db, tmp_path) for _ in range(20)]
    registers = RegisterDirectory(db, tmp_path)
    monitor = RegisterMonitor(db, registers, interval=0.0, max_interval=3600.0)
    seen: list[RegisterReading] = []
    monitor.observers.append(seen.append)
    try:
        await monitor.check_due()  # the first round asks every register
        assert sorted(r.kkt_id for r in seen) == ids and all(r.info and r.info["fnState"] == "ok" for r in seen)
        fds = open_fds()
        for _ in range(5):
            await monitor.check_due()
        assert all(registers.virtual(k) is None for k in ids)  # never opened for a check
        assert open_fds() <= fds  # nothing held open between rounds
        asked = len(seen)
        monitor.interval = 1000.0  # from now on an idle healthy register waits
        await monitor.check_due()  # (one more check each: the backoff starts from the new interval)
        asked = len(seen)
        for _ in range(10):
            await monitor.check_due()
        assert len(seen) == asked  # idle and healthy: not asked again
        set_fn_state(tmp_path / f"registers/kkt-{ids[3]}.sqlite3", "broken")  # another process writes
        await monitor.check_due()
        assert [r.kkt_id for r in seen[asked:]] == [ids[3]]  # its journal changed: asked at once
        assert seen[-1].info is not None and seen[-1].info["fnState"] == "broken"
        row = await Accounts(db).get_kkt(ids[3])
        assert row is not None and row.fn_state == "broken"
    finally:
        await registers.close()


async def test_a_reading_writes_only_a_change(db: Database, tmp_path: Path) -> None:
    kkt_id = await add_register(db, tmp_path)
    rows = RegisterRows(db)
    before = await Accounts(db).get_kkt(kkt_id)
    assert before is not None
    info = {"fnState": "ok", "registered": True, "fnNumber": before.fn_serial, "kktRegNumber": before.kkt_reg_number}
    assert await rows.record(kkt_id, info) is False
    assert (await Accounts(db).get_kkt(kkt_id)) == before  # not even updated_at
    assert await rows.record(kkt_id, {**info, "fnState": "full"}) is True
    assert await rows.record(kkt_id, {"fnState": "full", "registered": False}) is True
    after = await Accounts(db).get_kkt(kkt_id)
    assert after is not None and after.fn_state == "full" and not after.registered
