"""The report totals the journal keeps (per day, and per shift in the Z report) equal a
full recomputation from its documents, whatever the mix of documents, batches, error
answers and days; a journal without kept totals gets them built when opened; a report
over the whole journal does not hold sales up."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kassagate.cashbox.journal import Journal, connect
from kassagate.cashbox.virtual import VirtualRegister, create_register
from kassagate.core.register import Register, reports

MSK = dt.timezone(dt.timedelta(hours=3))
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=MSK)


def sale(amount: int, *, cash: bool = True, vat: int | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"itemName": "x", "itemQty": 1000, "itemAmount": amount}
    if vat is not None:
        item["tax"] = vat
    return {"amount": amount, "items": [item],
            "payments": {"cashAmount" if cash else "cashlessAmount": amount}}


def oracle(j: Journal, first: str, last: str) -> dict[str, Any]:
    """The report of the days ``first``..``last`` summed from the documents themselves."""
    docs = j.between(f"{first} 00:00:00", f"{last} 23:59:59")
    return {"shiftCount": sum(1 for d in docs if d.kind == "open_shift"), **reports.totals(docs)}


def kept(j: Journal, first: str, last: str) -> dict[str, Any]:
    running = j.day_totals(first, last)
    return {"shiftCount": running.get(reports.SHIFT_COUNT, 0), **reports.render(running)}


def dates(r: Register, first: str, last: str, now: dt.datetime) -> dict[str, Any]:
    a = r.handle("dates_report", {"dateFrom": first, "dateFor": last}, now, random.Random(0))
    assert a["code"] == 0
    return {k: v for k, v in a.items() if k not in ("status", "code", "message", "printError", "dateFrom", "dateFor")}


#: One step: an operation with its parameters, then whether the batch commits after it.
step_st = st.tuples(
    st.sampled_from(["sale", "card_sale", "vat_sale", "refund", "refund_of", "rollback", "correction", "deposit",
                     "withdraw", "close_shift", "bad_sale", "next_day", "late_hour"]),
    st.integers(1, 50_000), st.booleans())


def run_step(r: Register, op: str, amount: int, now: dt.datetime, rng: random.Random,
             fiscal: list[tuple[int, str]]) -> None:
    call = lambda endpoint, req: r.handle(endpoint, req, now, rng)  # noqa: E731
    if op in ("sale", "card_sale", "vat_sale"):
        a = call("sale", sale(amount, cash=op != "card_sale", vat=2200 if op == "vat_sale" else None))
        if a["code"] == 0:
            fiscal.append((a["documentID"], a["fiscalID"]))
    elif op == "refund":
        call("refund", sale(amount))
    elif op == "refund_of" and fiscal:
        _, fid = fiscal[amount % len(fiscal)]
        call("refund", {**sale(1), "amount": 1, "parentDocID": fid,
                        "items": [{"itemName": "x", "itemQty": 1, "itemAmount": 1}]})
    elif op == "rollback" and fiscal:
        doc_id, _ = fiscal[amount % len(fiscal)]
        call("rollback", {"documentID": doc_id})
    elif op == "correction":
        call("correction", {"date_start": "2026-03-01", "date_stop": "2026-03-01", "cashAmount": amount,
                            "settlementSign": 1 + amount % 4, "correctionType": amount % 2,
                            "vatAmounts": [{"vatPercent": 2000, "vatSum": amount // 6}]})
    elif op in ("deposit", "withdraw"):
        call(op, {"amount": amount})
    elif op == "close_shift":
        call("close_shift", {})
    elif op == "bad_sale":  # an error answer: nothing of it may be counted
        a = call("sale", {**sale(amount), "amount": amount + 1})
        assert a["code"] != 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(step_st, min_size=1, max_size=60), st.integers(0, 2**32))
def test_kept_totals_equal_a_recomputation(tmp_path: Path, steps: list[tuple[str, int, bool]], seed: int) -> None:
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "r.sqlite3"  # (a new journal per example)
    create_register(path, merchant_id="m", now=START - dt.timedelta(days=1), auto_shift=True)
    j = Journal(path)
    try:
        r = Register(j.load_state(), j)
        rng = random.Random(seed)
        now = START
        fiscal: list[tuple[int, str]] = []
        j.begin()
        for op, amount, commit in steps:
            if op == "next_day":
                now += dt.timedelta(days=1 + amount % 3)
            elif op == "late_hour":  # past midnight, and (in cloud mode) towards a shift rotation
                now += dt.timedelta(hours=1 + amount % 23)
            else:
                run_step(r, op, amount, now, rng, fiscal)
            if commit:
                j.save_state(r.state)
                j.commit()
                j.begin()
            # inside the open transaction too: the kept totals include what it wrote
            day = str(now.date())
            assert kept(j, day, day) == oracle(j, day, day)
        j.save_state(r.state)
        j.commit()
        first, last = str(START.date()), str(now.date())
        assert kept(j, "0001-01-01", "9999-12-31") == oracle(j, "0001-01-01", "9999-12-31")
        assert dates(r, first, last, now) == oracle(j, first, last)
        for shift in range(1, r.state.shift_number + 1):
            close = j.close_report(shift)
            if close is not None:
                assert close.summary["totals"] == reports.totals(j.of_shift(shift))
    finally:
        j.close()


def test_a_journal_without_kept_totals_gets_them_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    create_register(path, merchant_id="m", now=START - dt.timedelta(days=1))
    j = Journal(path)
    r = Register(j.load_state(), j)
    rng = random.Random(1)
    fiscal: list[tuple[int, str]] = []
    j.begin()
    for i in range(300):
        now = START + dt.timedelta(hours=7 * i)
        run_step(r, ["sale", "card_sale", "vat_sale", "refund", "deposit", "correction", "close_shift",
                     "refund_of", "rollback"][i % 9], 100 + i, now, rng, fiscal)
    j.save_state(r.state)
    j.commit()
    expected = kept(j, "0001-01-01", "9999-12-31")
    j.close()
    conn = connect(path)  # the journal as written without the days table
    conn.execute("DROP TABLE days")
    conn.close()
    j = Journal(path)
    try:
        assert kept(j, "0001-01-01", "9999-12-31") == expected == oracle(j, "0001-01-01", "9999-12-31")
        for day in ("2026-03-02", "2026-03-10", "2026-03-20"):
            assert kept(j, day, day) == oracle(j, day, day)
        assert kept(j, "2026-03-02", "2026-03-02")["saleCount"] > 0
    finally:
        j.close()


async def test_a_whole_range_report_does_not_hold_sales_up(tmp_path: Path) -> None:
    """5,000 documents over 500 days; sales while whole-range reports run one after the
    other: each sale is answered within the bound (summed from the documents, each report
    would take hundreds of milliseconds and every sale behind it would wait)."""
    path = tmp_path / "r.sqlite3"
    create_register(path, merchant_id="m", now=START - dt.timedelta(days=1))
    j = Journal(path)
    r = Register(j.load_state(), j)
    rng = random.Random(2)
    j.begin()
    for i in range(5000):
        r.handle("sale", sale(100 + i % 7), START + dt.timedelta(hours=2.4 * i), rng)
    j.save_state(r.state)
    j.commit()
    j.close()
    clock_now = START + dt.timedelta(days=501)
    reg = await VirtualRegister.open(path, clock=lambda: clock_now)
    stop = asyncio.Event()

    async def reports_loop() -> int:
        n = 0
        while not stop.is_set():
            a = await reg.handle("dates_report", {"dateFrom": "2000-01-01", "dateFor": "2099-12-31"})
            assert a["code"] == 0 and a["saleCount"] >= 5000
            n += 1
        return n

    try:
        task = asyncio.create_task(reports_loop())
        latencies = []
        for i in range(200):
            t0 = time.perf_counter()
            a = await reg.handle("sale", sale(100 + i))
            latencies.append(time.perf_counter() - t0)
            assert a["code"] == 0
            await asyncio.sleep(0.001)
        stop.set()
        assert await task > 10
        latencies.sort()
        p95 = latencies[int(len(latencies) * 0.95)]
        assert p95 < 0.050, f"sale latency p95 {p95 * 1000:.1f} ms while whole-range reports run"
    finally:
        await reg.close()
