"""Benchmark: the costs that must stay flat as the work grows, each at two sizes in one
run, as ratios large / small (target: at most 1.5 each).

1. ``/dates_report`` over a year, 10^4 against 10^6 documents in the journal, and the
   ``/x_report`` of a closed shift of 10^6 documents against the open shift's
   (``scale_reports.py``; ``--quick``: 10^3 and 10^5 documents);
2. the queue's claim poll with 10^3 against 10^5 requests waiting for a retry, on SQLite
   and PostgreSQL when one answers (``claim.py``);
3. the intake's account path, 2,000 kassas round-robin against one (``scale_kassas.py``);
4. processing's idle CPU with 200 virtual registers against one (``scale_registers.py``).

The parts measure CPU time where the machine may be shared (reports, kassas, idle CPU)
and wall time for the claim (a database's work). The last line is the headline: the
worst ratio and its part.

    .venv/bin/python bench/scale.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import claim
import pgdb
import scale_kassas
import scale_registers
import scale_reports


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="10^3 and 10^5 documents, shorter idle windows")
    a = p.parse_args()
    ratios: dict[str, float] = {}

    small, large = scale_reports.sizes(a.quick)
    m = await scale_reports.measure(small, large, calls=20)
    ratios["dates report"] = m["dates_ratio"]
    ratios["x report, closed shift"] = m["x_ratio"]
    print(f"dates report, a year of {small:,} / {large:,} documents: {m['dates_small'] * 1000:.2f} / "
          f"{m['dates_large'] * 1000:.2f} ms CPU: ratio {m['dates_ratio']:.2f}")
    print(f"x report, closed shift of {large:,} documents / open shift: {m['x_closed'] * 1000:.2f} / "
          f"{m['x_open'] * 1000:.2f} ms CPU: ratio {m['x_ratio']:.2f}")
    print(f"journal: {m['large_bytes_per_doc']:.0f} bytes per document")

    with tempfile.TemporaryDirectory() as tmp:
        s, big = await claim.measure(f"sqlite:///{Path(tmp) / 'claim.sqlite3'}", 1000, 100_000, 30)
    ratios["claim, SQLite"] = big / s
    print(f"claim poll, 1,000 / 100,000 waiting, SQLite: {s * 1000:.2f} / {big * 1000:.2f} ms: ratio {big / s:.2f}")
    why = await pgdb.available()
    if why is None:
        async with pgdb.temporary_database("bench_scale") as url:
            s, big = await claim.measure(url, 1000, 100_000, 30)
        ratios["claim, PostgreSQL"] = big / s
        print(f"claim poll, 1,000 / 100,000 waiting, PostgreSQL: {s * 1000:.2f} / {big * 1000:.2f} ms: "
              f"ratio {big / s:.2f}")
    else:
        print(f"claim poll, PostgreSQL: skipped ({why})")

    one, every = await scale_kassas.measure(2000, 150.0, 600 if a.quick else 1500)
    ratios["kassas"] = every / one
    print(f"account path, 1 / 2,000 kassas round-robin: {one * 1e6:.0f} / {every * 1e6:.0f} us CPU per request: "
          f"ratio {every / one:.2f}")

    seconds = 10.0 if a.quick else 20.0
    idle_one = scale_registers.run_child(1, 8.0, seconds, None)
    idle_many = scale_registers.run_child(200, 8.0, seconds, None)
    ratios["idle registers"] = idle_many["cpu_share"] / idle_one["cpu_share"]
    print(f"idle processing, 1 / 200 registers: {idle_one['cpu_share'] * 100:.2f} / "
          f"{idle_many['cpu_share'] * 100:.2f} % of a core, {idle_one['fds']:.0f} / {idle_many['fds']:.0f} "
          f"descriptors: ratio {ratios['idle registers']:.2f}")

    worst = max(ratios, key=lambda k: ratios[k])
    print(f"worst ratio large / small: {ratios[worst]:.2f} ({worst}; target <= 1.5)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
