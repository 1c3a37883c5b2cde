"""Benchmark: the idle cost of processing against the number of registers it watches.

A service database (SQLite) with ``--small`` and then ``--large`` virtual registers (1
and 200), each in a process of its own running processing as ``serve`` does (the worker,
the register monitor, the callback sender) with nothing to do: after ``--warmup``
seconds (the monitor's first rounds), the process's CPU time over ``--seconds`` as a
share of one core, and its open file descriptors. ``--code DIR`` runs the children on
the kassagate found in ``DIR`` (another checkout's ``src``), to compare two versions in
one run. The last line is the headline: the ratio large / small of the idle CPU
(target: at most 1.5).

    .venv/bin/python bench/scale_registers.py [--small 1] [--large 200] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path


async def child(count: int, warmup: float, seconds: float) -> dict[str, float]:
    from kassagate.cashbox.virtual import create_register
    from kassagate.processing.service import Processing
    from kassagate.storage.db import open_database
    from kassagate.storage.repos import Accounts

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        db = await open_database(f"sqlite:///{data / 'kassagate.sqlite3'}")
        accounts = Accounts(db, secrets.token_bytes(32))
        (data / "registers").mkdir()
        for _ in range(count):
            kkt_id = await accounts.add_kkt(kind="virtual", merchant_id="m-" + secrets.token_hex(8))
            rel = f"registers/kkt-{kkt_id}.sqlite3"
            ident = create_register(data / rel, merchant_id="m")
            await accounts.update_kkt(kkt_id, journal_path=rel, fn_serial=ident.fn_serial,
                                      kkt_reg_number=ident.kkt_reg_number)
        processing = Processing(db, data)
        stop = asyncio.Event()
        processing.start(stop)
        await asyncio.sleep(warmup)
        cpu, wall = time.process_time(), time.monotonic()
        await asyncio.sleep(seconds)
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        fds = len(os.listdir("/proc/self/fd"))
        stop.set()
        await processing.close()
        await db.close()
    return {"cpu_share": cpu / wall, "fds": fds}


def run_child(count: int, warmup: float, seconds: float, code: str | None) -> dict[str, float]:
    env = dict(os.environ)
    if code:
        env["PYTHONPATH"] = code
    out = subprocess.run([sys.executable, __file__, "--child", str(count), "--warmup", str(warmup),
                          "--seconds", str(seconds)], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small", type=int, default=1)
    p.add_argument("--large", type=int, default=200)
    p.add_argument("--warmup", type=float, default=8.0)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--code", help="the src directory of the kassagate to measure (default: this one)")
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child is not None:
        print(json.dumps(asyncio.run(child(a.child, a.warmup, a.seconds))))
        return 0
    small = run_child(a.small, a.warmup, a.seconds, a.code)
    large = run_child(a.large, a.warmup, a.seconds, a.code)
    ratio = large["cpu_share"] / small["cpu_share"]
    for n, m in ((a.small, small), (a.large, large)):
        print(f"{n} registers: idle CPU {m['cpu_share'] * 100:.2f} % of a core, {m['fds']:.0f} file descriptors")
    print(f"idle CPU {a.large}/{a.small} registers: ratio {ratio:.2f} (target <= 1.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
