"""The operator's queries and commands (storage/manage.py) on both engines: listings
without secrets, guarded deletes, and a requeue that keeps the request's register so that
the next claim starts in doubt there (fiscalized at most once)."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from sqlalchemy import insert, select

from kassagate.core.states import RequestStatus
from kassagate.processing import dispatch
from kassagate.storage import manage, queue
from kassagate.storage.db import Database, open_database
from kassagate.storage.repos import Accounts, NotFoundError
from kassagate.storage.schema import request_events, requests


async def add_request(db: Database, kassaid: str, **values: Any) -> str:
    nuid = f"{secrets.randbelow(10**23):023d}"
    receipt = {"kassaid": kassaid, "kassatoken": "tok-secret", "oplata_arr": {"client_email": "buyer@example.com",
               "client_phone": "+79990000000", "kassir_fio": "Ivanova A."}, "itog_arr": {"itog_cheka": 1500}}
    row = dict(nuid=nuid, qnuid=f"{secrets.randbelow(10**23):023d}", mode="kassa", kassaid=kassaid,
               receipt=json.dumps(receipt), receipt_hash="0" * 64, check_type=1, debug=False,
               accepted_at=queue.now_us(), status=0)
    row.update(values)
    async with db.write_connection() as conn:
        await conn.execute(insert(requests).values(**row))
    return nuid


@pytest.fixture
async def db(database_url: str) -> Any:
    database = await open_database(database_url)
    try:
        yield database
    finally:
        await database.close()


async def test_kassas_and_clusters_list_show_enable_disable(db: Database) -> None:
    acc = Accounts(db, bytes(32))
    kkt = await acc.add_kkt(kind="remote", url="http://r", merchant_id="merchant-secret", fn_serial="9999000000000001",
                            kkt_reg_number="0000000000000001")
    await acc.add_cluster("900", token="ct")
    await acc.add_kassa("11", token="t11", kkt_id=kkt, cluster_id="900")
    await acc.add_kassa("12", token="t12", activated=False)
    await add_request(db, "11", status=RequestStatus.FISCALIZED, cluster_id="900")
    await add_request(db, "11", status=RequestStatus.FAILED, error_code=70)

    rows = await manage.list_kassas(db)
    assert [r["kassaid"] for r in rows] == ["11", "12"]
    assert rows[0]["requests"] == {"fiscalized": 1, "failed": 1} and rows[1]["requests"] == {}
    assert (rows[0]["kkt_kind"], rows[0]["fn_state"], rows[0]["cluster_id"]) == ("remote", "ok", "900")
    text = json.dumps(rows) + json.dumps(await manage.list_kkts(db))
    for secret in ("merchant-secret", "token_hash", "token_salt", "t11"):
        assert secret not in text

    shown = await manage.get_kassa(db, "11")
    assert shown["last_request_at"] is not None and shown["fn_serial"] == "9999000000000001"
    assert await manage.set_kassa_activated(db, "12", True) is True
    assert await manage.set_kassa_activated(db, "12", True) is False
    assert (await acc.get_kassa("12")).activated  # type: ignore[union-attr]
    assert await manage.set_kassa_activated(db, "11", False) is True
    assert not (await acc.get_kassa("11")).activated  # type: ignore[union-attr]
    with pytest.raises(NotFoundError):
        await manage.set_kassa_activated(db, "404", True)

    clusters = await manage.list_clusters(db)
    assert [(c["cluster_id"], c["kassas"], c["activated"]) for c in clusters] == [("900", 1, True)]
    c = await manage.get_cluster(db, "900")
    assert [m["kassaid"] for m in c["members"]] == ["11"] and c["requests"] == {"fiscalized": 1}
    assert await manage.set_cluster_activated(db, "900", False) is True
    assert not (await acc.get_cluster("900")).activated  # type: ignore[union-attr]
    kkts = await manage.list_kkts(db)
    assert [(k["id"], k["kassas"]) for k in kkts] == [(kkt, ["11"])]


async def test_delete_only_without_requests(db: Database) -> None:
    acc = Accounts(db, bytes(32))
    kkt_used = await acc.add_kkt(kind="virtual", merchant_id="m1", journal_path="registers/kkt-a.sqlite3")
    kkt_free = await acc.add_kkt(kind="virtual", merchant_id="m2", journal_path="registers/kkt-b.sqlite3")
    await acc.add_cluster("901", token="ct")
    await acc.add_cluster("902", token="ct")
    await acc.add_kassa("21", token="t", kkt_id=kkt_used, cluster_id="901")
    await acc.add_kassa("22", token="t", kkt_id=kkt_free, cluster_id="902")
    await add_request(db, "21", cluster_id="901")

    with pytest.raises(manage.RefusedError, match="1 request"):
        await manage.delete_kassa(db, "21")
    with pytest.raises(manage.RefusedError, match="1 request"):
        await manage.delete_cluster(db, "901")
    assert await acc.get_kassa("21") is not None and await acc.get_cluster("901") is not None

    assert await manage.delete_cluster(db, "902") == ["22"]
    assert await acc.get_cluster("902") is None
    assert (await acc.get_kassa("22")).cluster_id is None  # type: ignore[union-attr]
    gone = await manage.delete_kassa(db, "22")
    assert (gone.kkt_id, gone.journal_path) == (kkt_free, "registers/kkt-b.sqlite3")
    assert await acc.get_kassa("22") is None and await acc.get_kkt(kkt_free) is None
    assert await acc.get_kkt(kkt_used) is not None
    with pytest.raises(NotFoundError):
        await manage.delete_kassa(db, "22")


async def test_requeue_keeps_the_register_so_the_next_claim_is_in_doubt(db: Database) -> None:
    acc = Accounts(db, bytes(32))
    kkt = await acc.add_kkt(kind="remote", url="http://r", merchant_id="m")
    await acc.add_kassa("31", token="t", kkt_id=kkt)
    failed = await add_request(db, "31", status=RequestStatus.FAILED, error_code=70, error_text="unreachable",
                               attempts=10, kkt_id=kkt, kkt_ruled_out=False, finished_at=queue.now_us())
    ruled_out = await add_request(db, "31", status=RequestStatus.FAILED, error_code=330, attempts=3, kkt_id=kkt,
                                  kkt_ruled_out=True, finished_at=queue.now_us())
    done = await add_request(db, "31", status=RequestStatus.FISCALIZED, fd_number=5, kkt_id=kkt)

    r = await manage.requeue_request(db, failed)
    assert (r.kkt_id, r.kkt_ruled_out) == (kkt, False)
    got = (await manage.find_requests(db, nuid=failed))[0]
    assert (got["status"], got["attempts"], got["kkt_id"], got["kkt_ruled_out"]) == (0, 1, kkt, False)
    assert (got["error_code"], got["error_text"], got["finished_at"]) == (None, None, None)
    assert got["next_attempt_at"] is not None and got["next_attempt_at"] <= queue.now_us()
    assert [(e["kind"], e["kkt_id"]) for e in got["events"]] == [("requeued", kkt)]
    assert "code 70" in got["events"][0]["detail"]

    # a second requeue, of a fiscalized or an unknown request: refused, nothing written
    with pytest.raises(manage.RefusedError, match="pending"):
        await manage.requeue_request(db, failed)
    with pytest.raises(manage.RefusedError, match="fiscalized"):
        await manage.requeue_request(db, done)
    with pytest.raises(NotFoundError):
        await manage.requeue_request(db, "0" * 23)
    async with db.engine.connect() as conn:
        assert (await conn.execute(select(request_events.c.kind))).scalars().all() == ["requeued"]

    await manage.requeue_request(db, ruled_out)
    claimed = {c.nuid: c for c in await queue.claim(db, "op-test", limit=10, lease_us=10_000_000)}
    assert set(claimed) == {failed, ruled_out}
    c = claimed[failed]
    assert c.attempts == 2 and dispatch.in_doubt(attempts=c.attempts, kkt_id=c.kkt_id, kkt_ruled_out=c.kkt_ruled_out)
    c = claimed[ruled_out]
    assert not dispatch.in_doubt(attempts=c.attempts, kkt_id=c.kkt_id, kkt_ruled_out=c.kkt_ruled_out)


async def test_requests_list_filters_and_show_masks_contacts(db: Database) -> None:
    a = await add_request(db, "41", status=RequestStatus.FISCALIZED, rid="order-1", rid_scope="kassa:41",
                          accepted_at=1_000_000)
    b = await add_request(db, "41", status=RequestStatus.FAILED, accepted_at=2_000_000)
    c = await add_request(db, "42", status=RequestStatus.PENDING, rid="order-1", rid_scope="kassa:42",
                          accepted_at=3_000_000)
    assert [r["nuid"] for r in await manage.list_requests(db)] == [c, b, a]
    assert [r["nuid"] for r in await manage.list_requests(db, kassaid="41")] == [b, a]
    assert [r["nuid"] for r in await manage.list_requests(db, status=RequestStatus.FAILED)] == [b]
    assert [r["nuid"] for r in await manage.list_requests(db, since_us=2_000_000)] == [c, b]
    assert [r["nuid"] for r in await manage.list_requests(db, until_us=2_000_000)] == [a]
    assert [r["nuid"] for r in await manage.list_requests(db, limit=1)] == [c]

    by_rid = await manage.find_requests(db, rid="order-1")
    assert [r["nuid"] for r in by_rid] == [a, c]
    assert [r["nuid"] for r in await manage.find_requests(db, rid="order-1", kassaid="42")] == [c]
    shown = json.dumps(by_rid)
    for secret in ("buyer@example.com", "+79990000000", "tok-secret"):
        assert secret not in shown
    pay = by_rid[0]["receipt"]["oplata_arr"]
    assert (pay["client_email"], pay["client_phone"], pay["kassir_fio"]) == ("***", "***", "Ivanova A.")
    assert by_rid[0]["receipt"]["itog_arr"] == {"itog_cheka": 1500}
