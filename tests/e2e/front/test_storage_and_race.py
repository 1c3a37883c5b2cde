"""Acceptance on both engines through HTTP: concurrent duplicates of one RID (exactly one
800, the rest 409), and code 70 when storage refuses the write (nothing accepted, a retry
is safe)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from kassagate.storage.db import Database
from support.front import RunningFront, envelope, running_front
from support.strategies import sample_receipt

TOKEN = "race-token-0001"


async def make_kassa(f: RunningFront, kassaid: str = "42") -> None:
    kkt = await f.ctx.accounts.add_kkt(kind="remote", url="http://127.0.0.1:9", merchant_id="m",
                                       fn_serial="9999000000000001", kkt_reg_number="0000000000000001")
    await f.ctx.accounts.add_kassa(kassaid, token=TOKEN, kkt_id=kkt)


def body(f: RunningFront, rid: str | None, amount: int = 15000) -> dict[str, str]:
    return envelope(f.keys, sample_receipt(kassaid="42", kassatoken=TOKEN, amount=amount), kassaid="42",
                    token=TOKEN, rid=rid)


async def test_concurrent_same_rid_yields_one_800(database_url: str, data_dir: Path, port: int) -> None:
    async with running_front(data_dir, port, database_url) as f:
        await make_kassa(f)
        bodies = [body(f, "race-1") for _ in range(60)]
        answers = await asyncio.gather(*(f.post("/v1/fiscalize", b) for b in bodies))
        codes = [(a.status_code, a.json()["code"]) for a in answers]
        assert codes.count((200, "800")) == 1, codes
        assert codes.count((409, "409")) == 59, codes
        winner = next(a.json() for a in answers if a.json()["code"] == "800")
        for a in answers:
            d = a.json()
            if d["code"] == "409":
                assert (d["nuid"], d["qnuid"], d["same_request"]) == (winner["nuid"], winner["qnuid"], True)
        assert await f.ctx.requests.count() == 1


async def install_failure(db: Database) -> None:
    async with db.engine.begin() as conn:
        if db.is_sqlite:
            await conn.execute(text(
                "CREATE TRIGGER kg_fail BEFORE INSERT ON requests "
                "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"))
        else:
            await conn.execute(text(
                "CREATE FUNCTION kg_fail() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; "
                "END $$ LANGUAGE plpgsql"))
            await conn.execute(text(
                "CREATE TRIGGER kg_fail BEFORE INSERT ON requests FOR EACH ROW EXECUTE FUNCTION kg_fail()"))


async def remove_failure(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(text("DROP TRIGGER kg_fail" if db.is_sqlite else "DROP TRIGGER kg_fail ON requests"))


async def test_70_when_storage_fails_nothing_is_accepted(database_url: str, data_dir: Path, port: int) -> None:
    async with running_front(data_dir, port, database_url) as f:
        await make_kassa(f)
        await install_failure(f.ctx.db)
        answers = await asyncio.gather(*(f.post("/v1/fiscalize", body(f, rid)) for rid in ("r-1", "r-1", None)))
        for a in answers:
            d = a.json()
            assert (a.status_code, d["status"], d["code"]) == (200, "error", "70"), d
            assert "nuid" not in d and "retry" in d["error"]
        assert await f.ctx.requests.count() == 0
        await remove_failure(f.ctx.db)
        # the retry is safe: the RID was never recorded
        r = await f.post("/v1/fiscalize", body(f, "r-1"))
        assert r.json()["code"] == "800"
        assert await f.ctx.requests.count() == 1


async def test_70_when_database_is_unreachable(tmp_path: Path, data_dir: Path, port: int) -> None:
    db_path = tmp_path / "db" / "kassagate.sqlite3"
    db_path.parent.mkdir()
    async with running_front(data_dir, port, f"sqlite:///{db_path}") as f:
        await make_kassa(f)
        await f.ctx.db.engine.dispose()
        moved = tmp_path / "db-away"
        db_path.parent.rename(moved)  # the database disappears (unmounted volume): no connection opens
        try:
            r = await f.post("/v1/fiscalize", body(f, "u-1"))
            assert (r.status_code, r.json()["code"]) == (200, "70"), r.json()
        finally:
            moved.rename(db_path.parent)
        assert await f.ctx.requests.count() == 0
        r = await f.post("/v1/fiscalize", body(f, "u-1"))
        assert r.json()["code"] == "800"
