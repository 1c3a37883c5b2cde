"""One group-commit batch on the real journal: the rows of plain sales are inserted together
before the batch commits, later requests of the same batch see them (replays, refunds),
an error answer leaves the others, and a failed insert fails the whole batch (nothing of
it answered as fiscalized, no FD gap). The state row the batch saves."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import msgspec
import pytest

from kassagate.cashbox.virtual import VirtualRegister, create_register, read_journal


def sale(n: int, **kw: Any) -> dict[str, Any]:
    return {"amount": 100, "items": [{"itemName": "x", "itemQty": 1000, "itemAmount": 100}],
            "payments": {"cashAmount": 100}, "docTime": "2026-03-02 10:00:00", "docNumber": f"N-{n}", **kw}


def journal(path: Path) -> list[dict[str, Any]]:
    lines = list(read_journal(path))
    fds = [x["fd"] for x in lines if x["fd"] is not None]
    assert fds == list(range(1, len(fds) + 1)), "FD gap or reuse"
    assert [x["documentID"] for x in lines] == list(range(1, len(lines) + 1))
    return lines


async def one_batch(r: VirtualRegister, calls: list[tuple[str, dict[str, Any]]],
                    monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    sizes: list[int] = []
    run = VirtualRegister._run_batch

    def spy(self: VirtualRegister, batch: list[tuple[str, dict[str, Any]]]) -> Any:
        sizes.append(len(batch))
        return run(self, batch)

    monkeypatch.setattr(VirtualRegister, "_run_batch", spy)
    answers = await asyncio.gather(*[r.handle(e, q) for e, q in calls])
    monkeypatch.setattr(VirtualRegister, "_run_batch", run)
    assert sizes == [len(calls)], "the requests did not run in one batch"
    return answers


@pytest.fixture
async def reg(tmp_path: Path) -> Any:
    path = tmp_path / "r.sqlite3"
    create_register(path, merchant_id="mid")
    r = await VirtualRegister.open(path)
    assert (await r.handle("sale", sale(0)))["fiscalID"] == "000000000003"  # FD 2 opened the shift
    yield r
    await r.close()


async def test_replays_inside_one_batch(reg: VirtualRegister, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = [("sale", sale(1)), ("sale", sale(2, documentExtID="E-2")), ("sale", sale(1)),
             ("sale", sale(3, documentExtID="E-2")), ("sale", sale(0)), ("sale", sale(4))]
    a = await one_batch(reg, calls, monkeypatch)
    assert all(x["code"] == 0 for x in a)
    assert a[2]["fiscalID"] == a[0]["fiscalID"] and a[2]["documentID"] == a[0]["documentID"]
    assert a[3]["fiscalID"] == a[1]["fiscalID"]
    assert a[4]["fiscalID"] == "000000000003"
    assert [x["fiscalID"] for x in (a[0], a[1], a[5])] == ["000000000004", "000000000005", "000000000006"]
    sales = [x for x in journal(reg.path) if x["type"] == "sale"]
    assert [x["docNumber"] for x in sales] == ["N-0", "N-1", "N-2", "N-4"]


async def test_an_error_answer_leaves_the_rest_of_the_batch(reg: VirtualRegister,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    calls = [("sale", sale(1)), ("sale", {**sale(2), "amount": 99}), ("sale", sale(3)),
             ("check_status", {"fiscalID": "4"}), ("sale", sale(4))]
    a = await one_batch(reg, calls, monkeypatch)
    assert [x["code"] for x in a] == [0, 4, 0, 0, 0]
    assert a[3]["documentID"] == a[0]["documentID"]  # a read sees the batch's own documents
    assert [a[0]["fiscalID"], a[2]["fiscalID"], a[4]["fiscalID"]] == ["000000000004", "000000000005", "000000000006"]
    sales = [x for x in journal(reg.path) if x["type"] == "sale"]
    assert [x["docNumber"] for x in sales] == ["N-0", "N-1", "N-3", "N-4"]


async def test_refund_of_a_sale_of_the_same_batch(reg: VirtualRegister, monkeypatch: pytest.MonkeyPatch) -> None:
    refund = {"parentDocID": "4", "amount": 100, "items": [{"itemName": "x", "itemQty": 1000, "itemAmount": 100}],
              "payments": {"cashAmount": 100}}
    a = await one_batch(reg, [("sale", sale(1)), ("refund", refund), ("sale", sale(2))], monkeypatch)
    assert [x["code"] for x in a] == [0, 0, 0] and a[0]["fiscalID"] == "000000000004"
    again = await reg.handle("refund", {**refund, "docTime": "2026-03-02 10:00:01", "docNumber": "R-2"})
    assert again["code"] == 19  # the whole quantity was refunded in the batch
    assert [x["type"] for x in journal(reg.path)][-3:] == ["sale", "refund", "sale"]


class FailingInserts:
    """A connection whose next ``executemany`` fails (a disk error while writing)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.failures = 1

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        if self.failures:
            self.failures -= 1
            raise sqlite3.OperationalError("disk I/O error (injected)")
        return self._conn.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@pytest.mark.parametrize("read_inside", [False, True])
async def test_a_failed_insert_fails_the_whole_batch(reg: VirtualRegister, monkeypatch: pytest.MonkeyPatch,
                                                     read_inside: bool) -> None:
    j = reg._journal
    real = j.conn
    j.conn = FailingInserts(real)  # type: ignore[assignment]
    calls = [("sale", sale(1)), ("sale", sale(2))]
    if read_inside:  # the insert runs (and fails) before a read inside the batch
        calls.append(("check_status", {"fiscalID": "4"}))
    calls.append(("sale", sale(3)))
    try:
        a = await one_batch(reg, calls, monkeypatch)
    finally:
        j.conn = real
    assert all(x["code"] == 5 for x in a), a
    assert [x["docNumber"] for x in journal(reg.path) if x["type"] == "sale"] == ["N-0"]
    b = await reg.handle("sale", sale(1))
    assert b["code"] == 0 and b["fiscalID"] == "000000000004"
    assert [x["docNumber"] for x in journal(reg.path) if x["type"] == "sale"] == ["N-0", "N-1"]


@pytest.mark.parametrize("registered", [True, False])
def test_the_saved_state_is_the_state_as_a_dict(tmp_path: Path, registered: bool) -> None:
    from kassagate.cashbox.journal import Journal

    path = tmp_path / "r.sqlite3"
    create_register(path, merchant_id="mid", registered=registered)
    j = Journal(path)
    try:
        state = j.load_state()
        state.shift_totals = {"saleCount": 2, "saleSum": 300, "saleVat": {"2200": 54}}
        state.shift_opened_at = "2026-03-02 10:00:00"
        j.begin()
        j.save_state(state)
        j.commit()
        row = j.conn.execute("SELECT v FROM meta WHERE k='state'").fetchone()[0]
        assert msgspec.json.decode(row) == state.to_dict()
        assert j.load_state() == state
    finally:
        j.close()
