"""The virtual register on its real SQLite journal: persistence, group commit, several
openers of one file (threads and processes), fault injection seen by a running register."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from kassagate.cashbox import virtual
from kassagate.cashbox.client import CashboxClient, InProcessTransport
from kassagate.cashbox.journal import JournalError, connect
from kassagate.cashbox.virtual import VirtualRegister, create_register, read_journal, set_fault, set_fn_state


def sale(n: int) -> dict[str, Any]:
    return {"amount": 100, "items": [{"itemName": "x", "itemQty": 1000, "itemAmount": 100}],
            "payments": {"cashAmount": 100}, "docTime": "2026-03-02 10:00:00", "docNumber": str(n)}


def file_size(path: str) -> int:
    return os.stat(path).st_size


def check_journal(path: Path) -> list[dict[str, Any]]:
    lines = list(read_journal(path))
    fds = [x["fd"] for x in lines if x["fd"] is not None]
    assert fds == list(range(1, len(fds) + 1)), "FD gap or reuse"
    ids = [x["documentID"] for x in lines]
    assert ids == list(range(1, len(ids) + 1))
    numbers = [x["docNumber"] or x["documentExtID"] for x in lines if x["type"] == "sale"]
    assert len(numbers) == len(set(numbers)), "duplicate sale"
    return lines


async def test_create_open_persist_reopen(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    ident = create_register(path, merchant_id="mid")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(JournalError):
        create_register(path, merchant_id="mid")
    r = await VirtualRegister.open(path)
    assert r.identity == ident and r.merchant_id == "mid"
    client = CashboxClient(InProcessTransport(r))
    a = await client.sale(sale(1))
    assert a.ok and a.extra is not None and a.extra.fd_number == 3
    await r.close()
    r2 = await VirtualRegister.open(path)
    b = await CashboxClient(InProcessTransport(r2)).sale(sale(2))
    assert b.extra is not None and b.extra.fd_number == 4 and b.extra.shift_number == 1
    again = await CashboxClient(InProcessTransport(r2)).sale(sale(1))
    assert again.fiscal_id == a.fiscal_id
    await r2.close()
    check_journal(path)


async def test_group_commit_under_concurrency(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    create_register(path, merchant_id="mid")
    r = await VirtualRegister.open(path)
    answers = await asyncio.gather(*[r.handle("sale", sale(i)) for i in range(400)])
    assert all(a["code"] == 0 for a in answers)
    assert len({a["fiscalID"] for a in answers}) == 400
    await r.close()
    assert len([x for x in check_journal(path) if x["type"] == "sale"]) == 400


async def test_two_openers_of_one_file_share_numbering(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    create_register(path, merchant_id="mid")
    a, b = await VirtualRegister.open(path), await VirtualRegister.open(path)
    results = await asyncio.gather(*[(a if i % 2 else b).handle("sale", sale(i)) for i in range(200)])
    assert all(x["code"] == 0 for x in results)
    # the same document sent to the other opener is recognised
    assert (await a.handle("sale", sale(0)))["fiscalID"] == results[0]["fiscalID"]
    await a.close()
    await b.close()
    lines = check_journal(path)
    assert len([x for x in lines if x["type"] == "open_shift"]) == 1


def test_two_processes_share_numbering(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    create_register(path, merchant_id="mid")
    script = textwrap.dedent(f"""
        import asyncio, sys
        from kassagate.cashbox.virtual import VirtualRegister
        async def main(tag):
            r = await VirtualRegister.open({str(path)!r})
            for i in range(150):
                a = await r.handle("sale", {{"amount": 100, "items": [{{"itemName": "x", "itemQty": 1000,
                    "itemAmount": 100}}], "payments": {{"cashAmount": 100}}, "documentExtID": f"{{tag}}-{{i}}"}})
                assert a["code"] == 0, a
            await r.close()
        asyncio.run(main(sys.argv[1]))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, tag]) for tag in ("p", "q")]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    lines = check_journal(path)
    assert len([x for x in lines if x["type"] == "sale"]) == 300


async def test_faults_reach_a_running_register(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    create_register(path, merchant_id="mid")
    r = await VirtualRegister.open(path)
    client = CashboxClient(InProcessTransport(r))
    assert (await client.sale(sale(1))).ok
    set_fn_state(path, "broken")
    a = await client.sale(sale(2))
    assert a.code == 5 and a.fn_state == "broken"
    info = await client.get_info()
    assert info.fn_state == "broken"
    set_fn_state(path, "ok")
    set_fault(path, printer_fail=True, terminal_fail=True)
    b = await client.sale(sale(3))
    assert b.ok and b.print_error == 1
    await r.close()


async def test_unregistered_register(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    ident = create_register(path, merchant_id="mid", registered=False)
    assert ident.fn_serial is None and ident.kkt_reg_number is None
    r = await VirtualRegister.open(path)
    info = await CashboxClient(InProcessTransport(r)).get_info()
    assert not info.registered and info.fn_state == "none"
    assert (await r.handle("sale", sale(1)))["code"] == 5
    await r.close()
    assert list(read_journal(path)) == []
    with pytest.raises(JournalError):
        set_fn_state(path, "broken")


async def test_waits_for_another_writer_then_commits(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    create_register(path, merchant_id="mid")
    r = await VirtualRegister.open(path)
    other = connect(path)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    pending = asyncio.ensure_future(r.handle("sale", sale(1)))
    await asyncio.sleep(0.3)
    assert not pending.done()
    other.execute("COMMIT")
    other.close()
    assert (await asyncio.wait_for(pending, 10))["code"] == 0
    await r.close()


async def test_commit_in_writer_thread_and_checkpoints_keep_the_wal_bounded(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(virtual, "INLINE_COMMIT_SECONDS", 0.0)  # always commit in the writer thread
    monkeypatch.setattr(virtual, "CHECKPOINT_WAL_BYTES", 256 * 1024)
    path = tmp_path / "r.sqlite3"
    wal = f"{path}-wal"
    create_register(path, merchant_id="mid")
    size0 = path.stat().st_size
    r = await VirtualRegister.open(path)
    wal_sizes = []
    for k in range(0, 1500, 50):
        answers = await asyncio.gather(*[r.handle("sale", sale(i)) for i in range(k, k + 50)])
        assert all(a["code"] == 0 for a in answers)
        wal_sizes.append(file_size(wal))
    # while open: the WAL was copied into the database file, and it starts over instead of growing
    assert path.stat().st_size > size0
    assert max(wal_sizes[10:]) <= 1.2 * max(wal_sizes[:10])
    await r.close()
    assert len([x for x in check_journal(path) if x["type"] == "sale"]) == 1500


async def test_wal_stays_within_a_few_mb_with_one_document_commits(tmp_path: Path) -> None:
    """A commit of one document writes about 32 KB of WAL; the register checkpoints by the
    WAL's size, so it never holds more than a few MB, however small the batches."""
    path = tmp_path / "r.sqlite3"
    wal = f"{path}-wal"
    create_register(path, merchant_id="mid")
    r = await VirtualRegister.open(path)
    peak = 0
    for i in range(1500):
        assert (await r.handle("sale", sale(i)))["code"] == 0  # one at a time: a batch each
        peak = max(peak, file_size(wal))
    await r.close()
    assert peak <= 5 * 1024 * 1024, peak
    assert len([x for x in check_journal(path) if x["type"] == "sale"]) == 1500
