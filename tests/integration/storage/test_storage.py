"""Storage on both engines: migrations, accounts, tokens as salted hashes, the request
writer's RID constraint and group commit."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import inspect, select, text

from kassagate.storage import open_database, requests
from kassagate.storage.migrate import current_revision, head_revision
from kassagate.storage.repos import Accounts, DuplicateError, NotFoundError
from kassagate.storage.request_store import NewRequest, Requests, RequestWriter
from kassagate.storage.tokens import hash_token, hash_token_pbkdf2, verify_token

KEY = bytes(range(32))


def row(nuid: str, *, rid: str | None = None, scope: str | None = None, kassaid: str = "1") -> dict[str, Any]:
    return {
        "nuid": nuid,
        "qnuid": nuid[::-1],
        "mode": "kassa",
        "kassaid": kassaid,
        "cluster_id": None,
        "rid_scope": scope,
        "rid": rid,
        "receipt": "{}",
        "receipt_hash": "0" * 64,
        "check_type": 1,
        "debug": False,
        "accepted_at": 1,
        "status": 0,
    }


async def test_migrations_create_every_c4_table_and_are_idempotent(database_url: str) -> None:
    db = await open_database(database_url)
    try:
        assert await current_revision(db.engine) == head_revision() is not None
        async with db.engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            cols = await conn.run_sync(lambda c: {x["name"] for x in inspect(c).get_columns("requests")})
        assert {"kkts", "clusters", "kassas", "requests", "alembic_version"} <= names
        for c in ("nuid", "qnuid", "rid_scope", "rid", "receipt", "receipt_hash", "lease_owner", "qr", "finished_at"):
            assert c in cols
    finally:
        await db.close()
    again = await open_database(database_url)  # second start: nothing to do, no error
    await again.close()


async def test_sqlite_runs_in_wal_with_full_sync(tmp_path: Any) -> None:
    db = await open_database(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    try:
        async with db.engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
            assert (await conn.execute(text("PRAGMA synchronous"))).scalar_one() == 2  # FULL
    finally:
        await db.close()


async def test_accounts_round_trip_and_tokens_are_salted_hashes(database_url: str) -> None:
    db = await open_database(database_url)
    try:
        acc = Accounts(db, KEY)
        kkt_id = await acc.add_kkt(kind="remote", url="http://r", merchant_id="m", fn_serial="1" * 16,
                                   kkt_reg_number="2" * 16)
        await acc.add_cluster("77", token="cluster-secret", type="vending")
        await acc.add_kassa("1", token="secret-1", kkt_id=kkt_id, cluster_id="77", type="vending", debug=True)
        await acc.add_kassa("2", token="secret-1", activated=False)
        with pytest.raises(DuplicateError):
            await acc.add_kassa("1", token="x")
        with pytest.raises(NotFoundError):
            await acc.add_kassa("3", token="x", cluster_id="404")
        k1, k2 = await acc.get_kassa("1"), await acc.get_kassa("2")
        assert k1 is not None and k2 is not None
        assert k1.kkt is not None and k1.kkt.registered and k1.kkt.fn_state == "ok"
        assert (k1.type, k1.debug, k1.activated, k1.cluster_id) == ("vending", True, True, "77")
        assert k2.kkt is None and not k2.activated
        # same token, different salts -> different hashes; the clear token is nowhere
        assert k1.token_salt != k2.token_salt and k1.token_hash != k2.token_hash
        assert "secret-1" not in k1.token_hash
        assert verify_token("secret-1", k1.token_salt, k1.token_hash, KEY)
        assert not verify_token("secret-2", k1.token_salt, k1.token_hash, KEY)
        assert not verify_token("secret-1", k1.token_salt, k1.token_hash, bytes(32))  # another token key
        assert [k.kassaid for k in await acc.cluster_members("77")] == ["1"]
        cluster = await acc.get_cluster("77")
        assert cluster is not None and cluster.type == "vending" and cluster.activated
        await acc.set_fn_state(kkt_id, "broken")
        k1b = await acc.get_kassa("1")
        assert k1b is not None and k1b.kkt is not None and k1b.kkt.fn_state == "broken"
        assert await acc.get_kassa("404") is None
    finally:
        await db.close()


async def test_writer_keeps_one_row_per_rid_under_concurrency(database_url: str) -> None:
    db = await open_database(database_url)
    try:
        writer = RequestWriter(db)
        rows = [row(f"{i:023d}", rid="same", scope="kassa:1") for i in range(40)]
        rows += [row(f"{100 + i:023d}") for i in range(20)]  # no RID: all inserted
        results = await asyncio.gather(*(writer.insert(NewRequest(**r)) for r in rows))
        inserted = [r for r in results[:40] if r.id is not None]
        assert len(inserted) == 1
        first_nuid = next(r["nuid"] for r, res in zip(rows, results, strict=False) if res.id is not None)
        for res in results[:40]:
            if res.id is None:
                assert res.duplicate_of is not None and res.duplicate_of["nuid"] == first_nuid
        assert all(r.id is not None for r in results[40:])
        # another scope may use the same RID
        other = await writer.insert(NewRequest(**row("9" * 23, rid="same", scope="kassa:2", kassaid="2")))
        assert other.id is not None
        reqs = Requests(db)
        assert await reqs.count() == 1 + 20 + 1
        assert await reqs.pending_counts(["1", "2", "3"]) == {"1": 21, "2": 1, "3": 0}
        got = await reqs.get_by_ids(first_nuid, first_nuid[::-1])
        assert got is not None and got["rid"] == "same"
        assert await reqs.get_by_ids(first_nuid, "5" * 23) is None
        await writer.close()
    finally:
        await db.close()


async def test_writer_failure_reaches_every_waiter_and_stores_nothing(database_url: str) -> None:
    db = await open_database(database_url)
    try:
        writer = RequestWriter(db)
        bad = row("1" * 23)
        bad["receipt"] = None  # NOT NULL: the whole batch fails
        results = await asyncio.gather(
            writer.insert(NewRequest(**bad)), writer.insert(NewRequest(**row("2" * 23))), return_exceptions=True
        )
        assert all(isinstance(r, Exception) for r in results) or isinstance(results[0], Exception)
        ok = await writer.insert(NewRequest(**row("3" * 23)))
        assert ok.id is not None
        async with db.engine.connect() as conn:
            nuids = {r for (r,) in await conn.execute(select(requests.c.nuid))}
        assert "1" * 23 not in nuids and "3" * 23 in nuids
    finally:
        await db.close()


def test_hash_token_format() -> None:
    salt, h = hash_token("t", KEY)
    assert len(bytes.fromhex(salt)) == 16
    assert h.startswith("hmac_sha256$") and len(h) <= 160
    assert verify_token("t", salt, h, KEY)
    assert not verify_token("t", salt, h[:-1] + "0" if h[-1] != "0" else h[:-1] + "1", KEY)
    assert not verify_token("t", "zz", h, KEY)
    # the PBKDF2 form stays verifiable
    salt, h = hash_token_pbkdf2("t", iterations=1000)
    assert h.startswith("pbkdf2_sha256$1000$")
    assert verify_token("t", salt, h, KEY) and not verify_token("u", salt, h, KEY)


async def test_concurrent_first_starts_migrate_once(database_url: str) -> None:
    dbs = await asyncio.gather(*(open_database(database_url) for _ in range(4)))
    try:
        for db in dbs:
            assert await current_revision(db.engine) == head_revision()
        async with dbs[0].engine.connect() as conn:
            versions = (await conn.execute(text("SELECT count(*) FROM alembic_version"))).scalar_one()
        assert versions == 1
    finally:
        for db in dbs:
            await db.close()


async def test_request_reads_equal_the_engines_rows(database_url: str) -> None:
    """``Requests.get``/``get_by_ids`` (on SQLite through the reader thread) give exactly
    the row SQLAlchemy reads, types included."""
    db = await open_database(database_url)
    try:
        writer = RequestWriter(db)
        stored = row("4" * 23, rid="r-1", scope="kassa:1")
        stored.update(debug=True, kkt_id=None, fd_number=2**40, fiscal_sign="0123456789", qr="t=1&s=2")
        request_id = (await writer.insert(NewRequest(**stored))).id
        await writer.close()
        assert request_id is not None
        async with db.engine.connect() as conn:
            expected = dict((await conn.execute(select(requests).where(requests.c.id == request_id))).mappings().one())
        reqs = Requests(db)
        by_id = await reqs.get(request_id)
        by_ids = await reqs.get_by_ids("4" * 23, ("4" * 23)[::-1])
        assert by_id == expected and by_ids == expected
        assert by_id is not None and by_id["debug"] is True and by_id["fd_number"] == 2**40
        assert await reqs.get(request_id + 1000) is None
    finally:
        await db.close()


async def test_the_sqlite_reader_refuses_writes(tmp_path: Any) -> None:
    from kassagate.storage.errors import StorageError

    db = await open_database(f"sqlite+aiosqlite:///{tmp_path / 'r.sqlite3'}")
    try:
        with pytest.raises(StorageError, match=r"readonly|read-only|query_only"):
            await db.sqlite_read(lambda conn: conn.execute("CREATE TABLE t (k TEXT)"))
        assert await db.sqlite_read(lambda conn: conn.execute("SELECT 41 + 1").fetchone()[0]) == 42
    finally:
        await db.close()


async def test_a_failed_store_or_account_read_is_a_storage_error(database_url: str) -> None:
    """What the intake answers with 70: the database's failures reach it as StorageError,
    whatever the engine."""
    from kassagate.storage.errors import StorageError

    db = await open_database(database_url)
    try:
        writer = RequestWriter(db)
        bad = row("1" * 23)
        bad["receipt"] = None  # NOT NULL
        with pytest.raises(StorageError):
            await writer.insert(NewRequest(**bad))
        await writer.close()
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP TABLE user_kassas"))
            await conn.execute(text("DROP TABLE kassas"))
        with pytest.raises(StorageError):
            await Accounts(db).get_kassa("1")
    finally:
        await db.close()
