"""``/readyz`` answers 503 with the reason when a part is missing (processing stopped, the
database gone), and the intake answers 70 with ``Retry-After`` when processing is behind
(more requests pending than ``KASSAGATE_MAX_QUEUE_DEPTH``)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import pytest

from kassagate.config import load_settings
from kassagate.front.app import create_front_app
from kassagate.front.context import FrontContext
from kassagate.processing.service import Processing
from support.front import envelope, running_front
from support.strategies import sample_receipt
from support.system import free_port

TOKEN = "behind-token-0001"


async def drop_database(url: str) -> None:
    """Drop the database at ``url`` under its clients (what an operator's mistake does)."""
    import asyncpg

    admin = os.environ.get("KASSAGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)')
    finally:
        await conn.close()


async def test_readyz_names_stopped_processing(data_dir: Path) -> None:
    ctx = await FrontContext.open(load_settings(data_dir=str(data_dir), rsa_bits=2048), crypto_workers=1)
    processing = Processing(ctx.db, data_dir)
    app = create_front_app(ctx, handover=processing, checks=[processing.not_running])
    stop = asyncio.Event()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://front") as client:
            r = await client.get("/readyz")
            assert r.status_code == 503
            assert r.json()["status"] == "error" and r.json()["reasons"] == ["processing: not started"]

            processing.start(stop)
            r = await client.get("/readyz")
            assert (r.status_code, r.json()) == (200, {"status": "ok"})

            stop.set()
            await processing.close()
            r = await client.get("/readyz")
            assert r.status_code == 503
            assert r.json()["error"] == "processing: stopped (worker, monitor, callbacks)"
            assert (await client.get("/healthz")).status_code == 200  # alive all the same
    finally:
        stop.set()
        await processing.close()
        await ctx.close()


@pytest.mark.postgres
async def test_readyz_names_an_unreachable_database(data_dir: Path, pg_url: str) -> None:
    url = pg_url
    ctx = await FrontContext.open(load_settings(data_dir=str(data_dir), database_url=url, rsa_bits=2048),
                                  crypto_workers=1)
    try:
        app = create_front_app(ctx)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://front") as client:
            assert (await client.get("/readyz")).status_code == 200
            metrics = (await client.get("/metrics")).text  # the gauges' queries on PostgreSQL
            assert "kassagate_queue_depth 0.0" in metrics and "kassagate_callbacks_pending 0.0" in metrics
            await drop_database(url)
            r = await client.get("/readyz")
            assert r.status_code == 503
            reasons = r.json()["reasons"]
            assert len(reasons) == 1 and reasons[0].startswith("database: ")
            # /metrics still answers with the process's own counters.
            assert (await client.get("/metrics")).status_code == 200
    finally:
        await ctx.close()


async def test_intake_answers_70_when_the_queue_is_too_deep(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KASSAGATE_MAX_QUEUE_DEPTH", "2")
    # A front server with no processing anywhere: accepted requests stay pending.
    async with running_front(data_dir, free_port(), workers=1) as f:
        kkt = await f.ctx.accounts.add_kkt(kind="remote", url="http://127.0.0.1:9", merchant_id="m",
                                           fn_serial="9999000000000001", kkt_reg_number="0000000000000001")
        await f.ctx.accounts.add_kassa("300", token=TOKEN, kkt_id=kkt)
        codes: list[str] = []
        refused: httpx.Response | None = None
        for _ in range(12):
            r = await f.post("/v1/fiscalize", envelope(f.keys, sample_receipt(kassaid="300", kassatoken=TOKEN),
                                                        kassaid="300", token=TOKEN))
            codes.append(r.json()["code"])
            if r.json()["code"] == "70":
                refused = r
                break
            await asyncio.sleep(0.3)  # the estimate is refreshed at most every 0.5 s
        assert refused is not None, codes
        assert codes[:3] == ["820", "820", "820"]  # at most 2 pending, plus what came before a refresh
        assert len(codes) <= 6
        body = refused.json()
        assert refused.status_code == 200 and body["status"] == "error" and "nuid" not in body
        assert refused.headers["retry-after"] == "5"
        assert "Processing is behind" in body["error"] and "Retry in 5 s" in body["error"]
        assert await f.ctx.requests.pending_counts(["300"]) == {"300": codes.count("820")}
        metrics = (await f.client.get(f.url + "/metrics")).text
        assert 'kassagate_intake_refused_total{reason="queue"} 1.0' in metrics
        assert f"kassagate_queue_depth {float(codes.count('820'))}" in metrics
