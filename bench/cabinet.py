"""Benchmark: how long each cabinet page takes with many requests in the database.

Fills a fresh database (SQLite in a temporary directory, or with ``--engine postgresql``
a database of its own at ``KASSAGATE_TEST_PG``'s server) with ``--rows`` requests over
``--kassas`` kassas (one in a thousand failed, the newest hundred pending, every tenth
with an order label and a RID), then asks the cabinet's ASGI app for each page as an
operator and as a merchant owning one kassa, ``--repeat`` times, and prints the median
and the slowest time per page (the page rendered, through httpx's ASGI transport: no
network).

    .venv/bin/python bench/cabinet.py [--rows 1000000] [--kassas 20] [--repeat 5] [--engine sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

import pgdb
from kassagate.cabinet import auth
from kassagate.cabinet.app import PREFIX, create_cabinet_app
from kassagate.config import Settings
from kassagate.front.keys import load_or_create_token_key
from kassagate.storage import open_database
from kassagate.storage.db import Database
from kassagate.storage.repos import Accounts
from kassagate.storage.users import Users

RECEIPT = json.dumps(
    {
        "cms": "bench",
        "check_send_type": "email",
        "name_zakaz": "",
        "products_arr": [{"name_tovar": "Tea", "price_piece_bez_skidki": 10000, "kolvo": 1, "skidka": 0,
                          "price_piece": 10000, "summa": 10000, "stavka_nds": 11, "priznak_sposoba_rascheta": 4,
                          "priznak_predmeta_rascheta": 1}],
        "oplata_arr": {"rezhim_nalog": 1, "money_electro": 10000, "client_email": "buyer@example.com"},
        "itog_arr": {"priznak_rascheta": 1, "itog_cheka": 10000},
    }
)


COLUMNS = ("nuid", "qnuid", "mode", "kassaid", "rid_scope", "rid", "receipt", "receipt_hash", "check_type", "debug",
           "accepted_at", "status", "error_code", "error_text", "finished_at", "fd_number", "order_label")


def generate(rows: int, kassas: int) -> Iterator[tuple[Any, ...]]:
    """The requests, one every 0.1 s up to now: one in a thousand failed, the newest hundred
    pending, every tenth with an order label and a RID."""
    now = int(time.time() * 1_000_000)
    start = now - rows * 100_000
    for i in range(rows):
        kassaid = str(1000 + i % kassas)
        labelled = i % 10 == 0
        status = 0 if i >= rows - 100 else (2 if i % 1000 == 7 else 1)
        at = start + i * 100_000
        yield (
            f"{i:023d}", f"{i:023d}"[::-1], "kassa", kassaid, f"kassa:{kassaid}" if labelled else None,
            f"rid-{i}" if labelled else None, RECEIPT, "0" * 64, 1, False, at, status,
            60 if status == 2 else None, "failed" if status == 2 else None, at if status != 0 else None,
            i if status == 1 else None, f"order-{i}" if labelled else None,
        )


def fill_sqlite(path: Path, rows: int, kassas: int) -> None:
    conn = sqlite3.connect(path)
    marks = ", ".join("?" * len(COLUMNS))
    sql = f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({marks})"  # noqa: S608 - constant columns
    conn.executemany(sql, generate(rows, kassas))
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


async def fill_postgresql(url: str, rows: int, kassas: int) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.copy_records_to_table("requests", records=generate(rows, kassas), columns=list(COLUMNS))
        # As autovacuum leaves a table in service: statistics and the visibility map (which
        # lets counts read the indexes alone).
        await conn.execute("VACUUM ANALYZE requests")
    finally:
        await conn.close()


async def measure(db: Database, data_dir: Path, args: argparse.Namespace) -> None:
    app = Starlette(routes=[Mount(PREFIX, create_cabinet_app(db, Settings(data_dir=data_dir)))])
    newest = args.rows
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    pages = [
        "/overview", "/requests", f"/requests?before={newest // 2}", "/requests?state=2",
        "/requests?kassa=1005", "/requests?kassa=1005&state=2", f"/requests?q=rid-{args.rows // 2 // 10 * 10}",
        f"/requests?q=order-{args.rows // 3 // 10 * 10}", f"/requests?q={args.rows // 4:023d}",
        "/requests?from=2000-01-01&to=2000-01-02", f"/requests?from={yesterday}&to={yesterday}",
        f"/requests/{newest // 2}", "/kassas", "/registers",
        f"/requests/newer?after={newest - 10}",
    ]
    for login in ("op", "shop"):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench/cabinet") as http:
            form = await http.get("/login")
            csrf = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            r = await http.post("/login", data={"csrf": csrf, "login": login, "password": "bench password"})
            assert r.status_code == 303, r.text
            print(f"\nas {login}: page, median ms, slowest ms")
            for page in pages:
                times = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    resp = await http.get(page)
                    times.append((time.perf_counter() - t0) * 1000)
                    assert resp.status_code in (200, 404), (page, resp.status_code)
                print(f"  {page:48s} {statistics.median(times):8.1f} {max(times):8.1f}")


async def accounts(db: Database, data_dir: Path, kassas: int) -> None:
    acc, users = Accounts(db, load_or_create_token_key(data_dir)), Users(db)
    for k in range(kassas):
        await acc.add_kassa(str(1000 + k), token=f"bench-token-{k:08d}")
    await users.add("op", password_hash=auth.hash_password("bench password"), role="operator")
    await users.add("shop", password_hash=auth.hash_password("bench password"), role="merchant", kassa_ids=["1003"])


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--kassas", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--keep", type=Path, help="SQLite: keep the filled database in this directory, reuse it.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.keep or Path(tmp)
        if args.engine == "postgresql":
            async with pgdb.temporary_database("bench_cabinet") as url:
                db = await open_database(url)
                try:
                    await accounts(db, data_dir, args.kassas)
                    started = time.monotonic()
                    await fill_postgresql(url, args.rows, args.kassas)
                    print(f"PostgreSQL: {args.rows} requests written in {time.monotonic() - started:.1f} s")
                    await measure(db, data_dir, args)
                finally:
                    await db.close()
            return
        db_path = data_dir / "kassagate.sqlite3"
        reuse = db_path.exists()
        db = await open_database(f"sqlite:///{db_path}")
        try:
            if not reuse:
                await accounts(db, data_dir, args.kassas)
                started = time.monotonic()
                await asyncio.to_thread(fill_sqlite, db_path, args.rows, args.kassas)
                print(f"SQLite: {args.rows} requests written in {time.monotonic() - started:.1f} s")
            await measure(db, data_dir, args)
        finally:
            await db.close()


if __name__ == "__main__":
    asyncio.run(main())
