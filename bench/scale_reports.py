"""Benchmark: the register's reports against the documents its journal holds.

Two journals of one year of documents, ``--small`` and ``--large`` of them (10^4 and
10^6; ``--quick``: 10^3 and 10^5), each filled quickly through the journal's own write
path (the store's ``add`` and ``count`` in large transactions, copies of a sale the
register's rules made, with their own ids, FD numbers and times): all in shift 1, closed
at the end, then shift 2 open with a few sales. Timed through a ``VirtualRegister``
(the process's CPU time, median of ``--calls``, the best of three rounds alternating
between the cases):

- ``/dates_report`` over the whole year, large journal against small (``dates``);
- ``/x_report`` of the closed shift 1 against the open shift's, in the large journal
  (``x_closed``);

and the journal's size per document (after a checkpoint). The headline is the worse
ratio (target: at most 1.5).

    .venv/bin/python bench/scale_reports.py [--quick] [--calls 20] [--small N] [--large N]

Run with ``PYTHONPATH=<another checkout>/src`` it measures that code (its journal filled
without kept totals when it keeps none).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from kassagate.cashbox.journal import Journal
from kassagate.cashbox.virtual import VirtualRegister, create_register
from kassagate.core.register import Register, reports

MSK = dt.timezone(dt.timedelta(hours=3))
START = dt.datetime(2026, 1, 1, 9, 0, tzinfo=MSK)
DAYS = 365
SALE = {"amount": 12_300, "items": [{"itemName": "Coffee beans, 1 kg", "itemQty": 1000, "itemAmount": 12_300,
                                     "tax": 2200, "paymentMethod": 4, "paymentObject": 1}],
        "payments": {"cashlessAmount": 12_300}, "docNumber": "0"}


def fill(path: Path, n: int) -> dict[str, float]:
    """A journal of ``n`` documents over ``DAYS`` days in shift 1 (closed), then shift 2
    open with a few sales. Returns its bytes per document."""
    create_register(path, merchant_id="m", now=START - dt.timedelta(days=1), fn_capacity=10 * n + 1000)
    j = Journal(path)
    r = Register(j.load_state(), j)
    rng = random.Random(1)
    j.begin()
    first = r.handle("sale", SALE, START, rng)
    template = j.get(first["documentID"])
    assert template is not None
    s = r.state
    fn = s.fn
    assert fn is not None
    step = dt.timedelta(days=DAYS) / n
    count = getattr(j, "count", None)  # (none in a journal that keeps no totals: ``--code``)
    for i in range(1, n):
        doc = copy.copy(template)
        s.last_doc_id += 1
        fn.last_fd += 1
        doc.id, doc.fd, doc.doc_number = s.last_doc_id, fn.last_fd, str(i)
        doc.time = (START + step * i).strftime("%Y-%m-%d %H:%M:%S")
        j.add(doc)
        if count is not None:
            count(doc)
        s.shift_totals = reports.add(s.shift_totals, doc)
        s.shift_docs += 1
        s.shift_receipts += 1
        if i % 50_000 == 0:
            j.save_state(s)
            j.commit()
            j.begin()
    end = START + dt.timedelta(days=DAYS)
    s.shift_opened_at = end.strftime("%Y-%m-%d %H:%M:%S")  # (the rules would have rotated it daily)
    assert r.handle("close_shift", {}, end, rng)["code"] == 0
    for k in range(5):
        assert r.handle("sale", {**SALE, "docNumber": f"open-{k}"}, end + dt.timedelta(minutes=k), rng)["code"] == 0
    j.save_state(s)
    j.commit()
    j.checkpoint()
    j.close()
    return {"bytes_per_doc": path.stat().st_size / n}


async def timed(reg: VirtualRegister, endpoint: str, req: dict[str, object], calls: int) -> float:
    """The median CPU time of the process per call (less disturbed than the wall time by
    the other work of a shared machine)."""
    times = []
    for _ in range(calls):
        t = time.process_time()
        a = await reg.handle(endpoint, req)
        times.append(time.process_time() - t)
        assert a["code"] == 0, a
    return statistics.median(times)


async def measure(small: int, large: int, calls: int, rounds: int = 3) -> dict[str, float]:
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for name, n in (("small", small), ("large", large)):
            t = time.perf_counter()
            paths[name] = Path(tmp) / f"{name}.sqlite3"
            size = fill(paths[name], n)
            out[f"{name}_fill_s"] = time.perf_counter() - t
            out[f"{name}_bytes_per_doc"] = size["bytes_per_doc"]
        year = {"dateFrom": str(START.date()), "dateFor": str((START + dt.timedelta(days=DAYS)).date())}
        now = START + dt.timedelta(days=DAYS, hours=1)
        regs = {name: await VirtualRegister.open(p, clock=lambda: now) for name, p in paths.items()}
        try:
            for _ in range(rounds):  # interleaved: both sizes see the same machine; the best round counts
                for key, name, endpoint, req in (("dates_small", "small", "dates_report", year),
                                                 ("dates_large", "large", "dates_report", year),
                                                 ("x_open", "large", "x_report", {}),
                                                 ("x_closed", "large", "x_report", {"shiftID": 1})):
                    t = await timed(regs[name], endpoint, req, calls)
                    out[key] = min(out.get(key, t), t)
        finally:
            for reg in regs.values():
                await reg.close()
    out["dates_ratio"] = out["dates_large"] / out["dates_small"]
    out["x_ratio"] = out["x_closed"] / out["x_open"]
    return out


def sizes(quick: bool) -> tuple[int, int]:
    return (1_000, 100_000) if quick else (10_000, 1_000_000)


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="10^3 and 10^5 documents instead of 10^4 and 10^6")
    p.add_argument("--calls", type=int, default=20)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--small", type=int, help="documents of the small journal (instead of the sizes above)")
    p.add_argument("--large", type=int, help="documents of the large journal")
    a = p.parse_args()
    small, large = sizes(a.quick)
    small, large = a.small or small, a.large or large
    m = await measure(small, large, a.calls, a.rounds)
    print(f"journal fill: {small} docs {m['small_fill_s']:.1f} s, {large} docs {m['large_fill_s']:.1f} s; "
          f"{m['large_bytes_per_doc']:.0f} bytes per document")
    print(f"dates_report, a year: {small} docs {m['dates_small'] * 1000:.2f} ms, {large} docs "
          f"{m['dates_large'] * 1000:.2f} ms: ratio {m['dates_ratio']:.2f}")
    print(f"x_report of {large} docs: closed shift {m['x_closed'] * 1000:.2f} ms, open shift "
          f"{m['x_open'] * 1000:.2f} ms: ratio {m['x_ratio']:.2f}")
    print(f"worst ratio {max(m['dates_ratio'], m['x_ratio']):.2f} (target <= 1.5)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
