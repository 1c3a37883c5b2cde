"""The cabinet's app on both engines, through HTTP (httpx's ASGI transport): sign-in,
sessions, CSRF, slowed failures, what a merchant may see, what no page may show, and the
kassa created with a token shown once."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from kassagate.cabinet import auth
from kassagate.cabinet.app import PREFIX, create_cabinet_app
from kassagate.config import Settings
from kassagate.core.receipt import parse_receipt
from kassagate.front.keys import load_or_create_token_key
from kassagate.storage import open_database
from kassagate.storage.db import Database, utc_micros
from kassagate.storage.repos import Accounts
from kassagate.storage.request_store import NewRequest, RequestWriter
from kassagate.storage.tokens import verify_token
from kassagate.storage.users import Users
from support.receipts import receipt

PASSWORD = "correct horse battery"


@dataclass
class Env:
    db: Database
    http: httpx.AsyncClient
    throttle: auth.Throttle
    sessions: auth.Sessions
    now: list[float]
    ids: dict[str, int]
    cabinet: Any
    slept: list[float]


async def add_request(db: Database, kassaid: str, *, nuid: str, rid: str | None, order: str, status: int = 0,
                      debug: bool = False) -> int:
    body = receipt(kassaid, f"secret-token-{kassaid}", name_zakaz=order)
    parsed = parse_receipt(body, today=dt.date.today())
    stored, digest = parsed.stored_form()
    row: dict[str, Any] = {
        "nuid": nuid, "qnuid": nuid[::-1], "mode": "kassa", "kassaid": kassaid, "cluster_id": None,
        "rid_scope": None if rid is None else f"kassa:{kassaid}", "rid": rid, "receipt": stored,
        "receipt_hash": digest, "check_type": 1, "debug": debug, "accepted_at": utc_micros(), "status": status,
        "order_label": order,
    }
    writer = RequestWriter(db)
    try:
        got = await writer.insert(NewRequest(**row))
    finally:
        await writer.close()
    assert got.id is not None
    return got.id


@pytest.fixture
async def env(database_url: str, tmp_path: Path) -> AsyncIterator[Env]:
    db = await open_database(database_url)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    settings = Settings(data_dir=data_dir, database_url=database_url)
    acc = Accounts(db, load_or_create_token_key(data_dir))
    for k in ("501", "502"):
        await acc.add_kassa(k, token=f"secret-token-{k}")
    users = Users(db)
    await users.add("op", password_hash=auth.hash_password(PASSWORD), role="operator")
    await users.add("m1", password_hash=auth.hash_password(PASSWORD), role="merchant", kassa_ids=["501"])
    await users.add("m2", password_hash=auth.hash_password(PASSWORD), role="merchant", kassa_ids=["502"])
    ids = {
        "501": await add_request(db, "501", nuid="1" * 23, rid="rid-501", order="order-501"),
        "502": await add_request(db, "502", nuid="2" * 23, rid="rid-502", order="order-502", status=3, debug=True),
    }
    now = [time.time()]
    throttle = auth.Throttle(free=2, base=0.2, cap=0.4)
    sessions = auth.Sessions(auth.load_secret(data_dir), ttl=3600, clock=lambda: now[0])
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(seconds)

    cabinet = create_cabinet_app(db, settings, throttle=throttle, sessions=sessions, clock=lambda: now[0],
                                 sleep=sleep)
    transport = httpx.ASGITransport(app=Starlette(routes=[Mount(PREFIX, cabinet)]))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver/cabinet") as http:
        yield Env(db, http, throttle, sessions, now, ids, cabinet.state.cabinet, slept)
    await db.close()


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, html
    return m.group(1)


async def sign_in(http: httpx.AsyncClient, login: str, password: str = PASSWORD) -> httpx.Response:
    page = await http.get("/login")
    return await http.post("/login", data={"csrf": csrf_of(page.text), "login": login, "password": password})


async def test_sign_in_sets_a_signed_httponly_samesite_cookie_and_opens_the_pages(env: Env) -> None:
    assert (await env.http.get("/requests")).headers["location"].endswith("/cabinet/login")
    r = await sign_in(env.http, "op")
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/cabinet" in cookie
    for path in ("/overview", "/requests", "/kassas", "/registers", f"/requests/{env.ids['501']}"):
        page = await env.http.get(path)
        assert page.status_code == 200, path
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    listing = (await env.http.get("/requests")).text
    assert "rid-501" in listing and "rid-502" in listing


async def test_wrong_password_is_refused_and_repeated_failures_slow_down(env: Env) -> None:
    timings = []
    for _ in range(4):
        started = time.monotonic()
        r = await sign_in(env.http, "op", "wrong password")
        timings.append(time.monotonic() - started)
        assert r.status_code == 401
        assert "Wrong login or password" in r.text
    # two free failures, then 0.2 s and 0.4 s before the password is even checked
    assert env.slept == [0.2, 0.4]
    assert timings[2] >= 0.2 and timings[3] >= 0.4
    assert env.throttle.delay("op") == 0.4
    assert (await sign_in(env.http, "op")).status_code == 303  # still works, after the wait
    assert env.slept == [0.2, 0.4, 0.4]
    assert env.throttle.delay("op") == 0.0
    # attempts sent in parallel are slowed too: each counts as failed from its start
    env.http.cookies.clear()
    csrf = csrf_of((await env.http.get("/login")).text)
    wrong = {"csrf": csrf, "login": "op", "password": "wrong password"}
    answers = await asyncio.gather(*(env.http.post("/login", data=wrong) for _ in range(4)))
    assert [a.status_code for a in answers] == [401] * 4
    assert env.slept[3:] == [0.2, 0.4]
    env.http.cookies.clear()
    r = await sign_in(env.http, "nobody", "whatever password")
    assert r.status_code == 401


async def test_a_form_without_its_csrf_token_is_refused(env: Env) -> None:
    await env.http.get("/login")
    r = await env.http.post("/login", data={"login": "op", "password": PASSWORD})
    assert r.status_code == 403
    r = await env.http.post("/login", data={"csrf": "forged", "login": "op", "password": PASSWORD})
    assert r.status_code == 403
    assert (await sign_in(env.http, "op")).status_code == 303
    r = await env.http.post("/kassas", data={"kassaid": "777"})
    assert r.status_code == 403
    assert await Accounts(env.db).get_kassa("777") is None
    r = await env.http.post("/logout", data={})
    assert r.status_code == 403
    assert (await env.http.get("/overview")).status_code == 200  # still signed in


async def test_a_merchant_sees_only_its_own_and_gets_404_for_the_rest(env: Env) -> None:
    assert (await sign_in(env.http, "m1")).status_code == 303
    listing = (await env.http.get("/requests")).text
    assert ">rid-501<" in listing and ">rid-502<" not in listing
    assert (await env.http.get(f"/requests/{env.ids['501']}")).status_code == 200
    other = await env.http.get(f"/requests/{env.ids['502']}")
    missing = await env.http.get("/requests/999999")
    assert other.status_code == missing.status_code == 404
    assert other.text.replace(f"/requests/{env.ids['502']}", "") == missing.text.replace("/requests/999999", "")
    assert (await env.http.get(f"/requests/{env.ids['502']}/row")).status_code == 404
    assert (await env.http.get("/requests/99999999999999999999999")).status_code == 404
    kassas = (await env.http.get("/kassas")).text
    assert 'id="kassa-501"' in kassas and 'id="kassa-502"' not in kassas
    # searching for another merchant's RID, nuid or order label finds nothing
    for needle in ("rid-502", "2" * 23, "order-502"):
        assert ">rid-502<" not in (await env.http.get("/requests", params={"q": needle})).text


async def test_search_filters_and_keyset_pages(env: Env) -> None:
    assert (await sign_in(env.http, "op")).status_code == 303
    for needle in ("rid-502", "2" * 23, "order-502"):
        text = (await env.http.get("/requests", params={"q": needle})).text
        assert ">rid-502<" in text and ">rid-501<" not in text, needle
    text = (await env.http.get("/requests", params={"state": "3"})).text
    assert ">rid-502<" in text and ">rid-501<" not in text and "DEBUG" in text
    text = (await env.http.get("/requests", params={"kassa": "501"})).text
    assert ">rid-501<" in text and ">rid-502<" not in text
    for i in range(55):
        await add_request(env.db, "501", nuid=f"{i:023d}", rid=f"bulk-{i}", order="bulk")
    first = (await env.http.get("/requests", params={"q": "bulk"})).text
    older = re.search(r'href="/cabinet/requests(\?[^"]+)" id="older"', first)
    assert older, "a second page"
    second = (await env.http.get("/requests" + older.group(1).replace("&amp;", "&"))).text
    shown = re.findall(r">bulk-(\d+)<", first) + re.findall(r">bulk-(\d+)<", second)
    assert sorted(map(int, shown)) == list(range(55))
    assert [int(x) for x in shown] == sorted(map(int, shown), reverse=True)  # newest first, no repeats


async def test_no_page_shows_a_token_merchant_id_or_unmasked_contact(env: Env) -> None:
    kkt_id = await Accounts(env.db).add_kkt(kind="virtual", merchant_id="merchant-secret-xyz")
    await Accounts(env.db).update_kassa("501", kkt_id=kkt_id)
    assert (await sign_in(env.http, "op")).status_code == 303
    pages = ["/overview", "/requests", "/kassas", "/registers", f"/requests/{env.ids['501']}",
             f"/requests/{env.ids['502']}", f"/requests/{env.ids['501']}/row"]
    for path in pages:
        r = await env.http.get(path)
        assert r.status_code == 200, path
        for secret in ("secret-token-", "merchant-secret-xyz", "buyer@example.com", "token_hash", "kassatoken"):
            assert secret not in r.text, (path, secret)
    page = (await env.http.get(f"/requests/{env.ids['501']}")).text
    assert "b***@example.com" in page


async def test_creating_a_kassa_shows_its_token_once_and_the_token_is_the_kassas(env: Env) -> None:
    assert (await sign_in(env.http, "m1")).status_code == 303
    form = await env.http.get("/kassas")
    r = await env.http.post("/kassas", data={"csrf": csrf_of(form.text), "kassaid": "601"})
    assert r.status_code == 201
    token = re.search(r'<code id="new-token">([^<]+)</code>', r.text)
    assert token
    kassa = await Accounts(env.db).get_kassa("601")
    assert kassa is not None and kassa.kkt is not None and kassa.kkt.registered
    assert verify_token(token.group(1), kassa.token_salt, kassa.token_hash, token_key_of(env))
    assert token.group(1) not in (await env.http.get("/kassas")).text
    assert "601" in (await env.http.get("/kassas")).text  # the merchant owns it now
    again = await env.http.post("/kassas", data={"csrf": csrf_of(form.text), "kassaid": "601"})
    assert again.status_code == 400 and "already exists" in again.text
    bad = await env.http.post("/kassas", data={"csrf": csrf_of(form.text), "kassaid": "12ab"})
    assert bad.status_code == 400


async def test_sessions_expire_and_end_with_a_new_password_or_disabling(env: Env) -> None:
    assert (await sign_in(env.http, "op")).status_code == 303
    env.now[0] += 3601
    assert (await env.http.get("/overview")).status_code == 303
    assert (await sign_in(env.http, "op")).status_code == 303
    assert (await env.http.get("/overview")).status_code == 200
    await Users(env.db).set_password("op", auth.hash_password("another password"))
    assert (await env.http.get("/overview")).status_code == 303
    assert (await sign_in(env.http, "op", "another password")).status_code == 303
    await Users(env.db).disable("op")
    assert (await env.http.get("/overview")).status_code == 303
    assert (await sign_in(env.http, "op", "another password")).status_code == 401


async def test_language_from_the_browser_and_the_switch(env: Env) -> None:
    ru = await env.http.get("/login", headers={"accept-language": "ru-RU,ru;q=0.9,en;q=0.5"})
    assert "Войти" in ru.text and 'lang="ru"' in ru.text
    switch = await env.http.get("/lang", params={"to": "en", "next": "/cabinet/login"},
                                headers={"accept-language": "ru"})
    assert switch.status_code == 303 and switch.headers["location"] == "/cabinet/login"
    en = await env.http.get("/login", headers={"accept-language": "ru"})
    assert "Sign in" in en.text and 'lang="en"' in en.text
    away = await env.http.get("/lang", params={"to": "ru", "next": "https://evil.example/"})
    assert away.headers["location"] == "/cabinet/"


def token_key_of(env: Env) -> bytes:
    """The installation's token key, which verifies the tokens the cabinet stores."""
    return load_or_create_token_key(env.cabinet.settings.data_dir)


async def test_kassa_actions_rotate_activate_debug_attach(env: Env) -> None:
    acc = Accounts(env.db, load_or_create_token_key(env.cabinet.settings.data_dir))
    await acc.add_cluster("77", token="cluster-token-77")
    assert (await sign_in(env.http, "m1")).status_code == 303
    csrf = csrf_of((await env.http.get("/kassas")).text)

    async def act(kassaid: str, **data: str) -> httpx.Response:
        return await env.http.post(f"/kassas/{kassaid}", data={"csrf": csrf, **data})

    rotated = await act("501", action="rotate")
    assert rotated.status_code == 201
    token = re.search(r'<code id="new-token">([^<]+)</code>', rotated.text)
    assert token
    kassa = await acc.get_kassa("501")
    assert kassa is not None and verify_token(token.group(1), kassa.token_salt, kassa.token_hash, token_key_of(env))
    assert not verify_token("secret-token-501", kassa.token_salt, kassa.token_hash, token_key_of(env))

    assert (await act("501", action="deactivate")).status_code == 200
    assert (await act("501", action="debug_on")).status_code == 200
    kassa = await acc.get_kassa("501")
    assert kassa is not None and (kassa.activated, kassa.debug) == (False, True)
    await act("501", action="activate")
    await act("501", action="debug_off")
    kassa = await acc.get_kassa("501")
    assert kassa is not None and (kassa.activated, kassa.debug) == (True, False)

    # cluster 77 is not m1's: refused; one m1 creates is m1's and takes the kassa
    assert (await act("501", action="attach", cluster="77")).status_code == 400
    created = await env.http.post("/clusters", data={"csrf": csrf, "cluster_id": "88"})
    assert created.status_code == 201 and 'id="new-token"' in created.text
    cluster_token = re.search(r'<code id="new-token">([^<]+)</code>', created.text)
    cluster = await acc.get_cluster("88")
    assert cluster_token and cluster is not None
    assert verify_token(cluster_token.group(1), cluster.token_salt, cluster.token_hash, token_key_of(env))
    assert (await act("501", action="attach", cluster="88")).status_code == 200
    assert [k.kassaid for k in await acc.cluster_members("88")] == ["501"]
    assert (await act("501", action="attach", cluster="")).status_code == 200
    assert await acc.cluster_members("88") == []

    # the cluster's own actions: its owner may, on another's cluster the answer is 404
    rotated = await env.http.post("/clusters/88", data={"csrf": csrf, "action": "rotate"})
    new_token = re.search(r'<code id="new-token">([^<]+)</code>', rotated.text)
    cluster = await acc.get_cluster("88")
    assert new_token and cluster is not None and verify_token(new_token.group(1), cluster.token_salt,
                                                              cluster.token_hash, token_key_of(env))
    assert (await env.http.post("/clusters/88", data={"csrf": csrf, "action": "deactivate"})).status_code == 200
    cluster = await acc.get_cluster("88")
    assert cluster is not None and not cluster.activated
    assert (await env.http.post("/clusters/77", data={"csrf": csrf, "action": "deactivate"})).status_code == 404
    assert (await env.http.post("/clusters/88", data={"action": "activate"})).status_code == 403
    other = await acc.get_cluster("77")
    assert other is not None and other.activated

    # another merchant's kassa, a kassa that does not exist, no CSRF token, an unknown action
    assert (await act("502", action="debug_on")).status_code == 404
    assert (await act("999", action="debug_on")).status_code == 404
    assert (await env.http.post("/kassas/501", data={"action": "deactivate"})).status_code == 403
    assert (await act("501", action="drop")).status_code == 400
    other = await acc.get_kassa("502")
    assert other is not None and not other.debug
    kassa = await acc.get_kassa("501")
    assert kassa is not None and kassa.activated


async def test_registers_show_fn_health_warnings_reachability_and_the_journal(env: Env, tmp_path: Path) -> None:
    from kassagate.cashbox.virtual import set_fault

    assert (await sign_in(env.http, "op")).status_code == 303
    csrf = csrf_of((await env.http.get("/kassas")).text)
    assert (await env.http.post("/kassas", data={"csrf": csrf, "kassaid": "801"})).status_code == 201
    kassa = await Accounts(env.db).get_kassa("801")
    assert kassa is not None and kassa.kkt is not None
    kkt_id = kassa.kkt.id
    remote = await Accounts(env.db).add_kkt(kind="remote", url="http://127.0.0.1:9/", merchant_id="m-secret-1")
    page = (await env.http.get("/registers")).text
    row = re.search(rf'<tr id="kkt-{kkt_id}"[^>]*>(.*?)</tr>', page, re.S)
    assert row and "warn" not in row.group(0).split(">")[0]
    assert 'class="reach">yes<' in row.group(1) and "0.00 %" in row.group(1)
    unreachable = re.search(rf'<tr id="kkt-{remote}"[^>]*>(.*?)</tr>', page, re.S)
    assert unreachable and 'class="reach">no<' in unreachable.group(1)
    assert "m-secret-1" not in page and "127.0.0.1:9" not in page

    journal_file = kassa.kkt.journal_file(Path(tmp_path / "data"))
    assert journal_file is not None
    set_fault(journal_file, fn="full")
    page = (await env.http.get("/registers")).text
    row = re.search(rf'<tr id="kkt-{kkt_id}" class="warn">(.*?)</tr>', page, re.S)
    assert row and "The fiscal drive does not accept documents" in row.group(1)

    journal = await env.http.get(f"/registers/{kkt_id}/journal")
    assert journal.status_code == 200 and 'id="journal"' in journal.text
    assert (await env.http.get(f"/registers/{remote}/journal")).status_code == 404
    # a merchant sees neither the registers of other kassas nor their journals
    env.http.cookies.clear()
    assert (await sign_in(env.http, "m1")).status_code == 303
    assert f'id="kkt-{kkt_id}"' not in (await env.http.get("/registers")).text
    assert (await env.http.get(f"/registers/{kkt_id}/journal")).status_code == 404


async def test_requeue_a_failed_request_and_resend_its_callback(env: Env) -> None:
    from sqlalchemy import text

    kkt_id = await Accounts(env.db).add_kkt(kind="virtual")
    failed = await add_request(env.db, "501", nuid="5" * 23, rid="rid-failed", order="o-f", status=2)
    now = utc_micros()
    async with env.db.write_connection() as conn:
        await conn.execute(
            text("UPDATE requests SET error_code = 330, error_text = 'FN full', attempts = 4, finished_at = :n, "
                 "kkt_id = :k, kkt_ruled_out = :f WHERE id = :i"),
            {"n": now, "k": kkt_id, "f": False, "i": failed},
        )
        await conn.execute(
            text("INSERT INTO callbacks (request_id, kassaid, url, attempts, next_attempt_at, delivered_at, "
                 "created_at) VALUES (:i, '501', 'http://127.0.0.1:9/cb', 1, :n, :n, :n)"),
            {"i": failed, "n": now},
        )
    assert (await sign_in(env.http, "m1")).status_code == 303
    page = (await env.http.get(f"/requests/{failed}")).text
    assert 'id="requeue"' in page and 'id="resend-callback"' in page
    assert "127.0.0.1:9/cb" not in page  # the callback URL is the merchant's own, but never shown
    csrf = csrf_of(page)

    # resend: the delivered callback starts a fresh series
    assert (await env.http.post(f"/requests/{failed}/callback", data={"csrf": csrf})).status_code == 303
    async with env.db.engine.connect() as conn:
        cb = (await conn.execute(text("SELECT delivered_at, attempts FROM callbacks WHERE request_id = :i"),
                                 {"i": failed})).one()
    assert tuple(cb) == (None, 0)
    again = await env.http.post(f"/requests/{failed}/callback", data={"csrf": csrf})
    assert again.status_code == 409  # under way: nothing to resend

    # requeue: no CSRF, another merchant's request, an unknown action: refused
    assert (await env.http.post(f"/requests/{failed}/requeue", data={})).status_code == 403
    assert (await env.http.post(f"/requests/{env.ids['502']}/requeue", data={"csrf": csrf})).status_code == 404
    assert (await env.http.post(f"/requests/{failed}/drop", data={"csrf": csrf})).status_code == 404
    r = await env.http.post(f"/requests/{failed}/requeue", data={"csrf": csrf})
    assert r.status_code == 303
    async with env.db.engine.connect() as conn:
        row = (await conn.execute(
            text("SELECT status, error_code, attempts, finished_at, kkt_id, kkt_ruled_out, next_attempt_at "
                 "FROM requests WHERE id = :i"), {"i": failed})).one()
        callbacks = (await conn.execute(text("SELECT count(*) FROM callbacks WHERE request_id = :i"),
                                        {"i": failed})).scalar_one()
    # attempts 1: the next claim counts 2, so a register not ruled out is asked first
    assert (row[0], row[1], row[2], row[3], row[4], bool(row[5])) == (0, None, 1, None, kkt_id, False)
    assert row[6] is not None and callbacks == 0
    timeline = (await env.http.get(f"/requests/{failed}")).text
    assert "requeued" in timeline and "from the cabinet by m1" in timeline and 'id="requeue"' not in timeline
    # pending now: requeued once, not twice
    assert (await env.http.post(f"/requests/{failed}/requeue", data={"csrf": csrf})).status_code == 409
    # a fiscalized request is never requeued
    assert (await env.http.post(f"/requests/{env.ids['501']}/requeue", data={"csrf": csrf})).status_code == 409


async def test_fault_injection_only_where_allowed_and_only_for_operators(env: Env, tmp_path: Path) -> None:
    assert (await sign_in(env.http, "op")).status_code == 303
    csrf = csrf_of((await env.http.get("/kassas")).text)
    assert (await env.http.post("/kassas", data={"csrf": csrf, "kassaid": "901"})).status_code == 201
    kassa = await Accounts(env.db).get_kassa("901")
    assert kassa is not None and kassa.kkt is not None
    kkt_id = kassa.kkt.id
    url = f"/registers/{kkt_id}/fault"
    assert 'class="fault"' not in (await env.http.get("/registers")).text
    assert (await env.http.post(url, data={"csrf": csrf, "fn": "full", "ofd": "up"})).status_code == 404

    env.cabinet.faults = True
    assert 'class="fault"' in (await env.http.get("/registers")).text
    assert (await env.http.post(url, data={"fn": "full", "ofd": "up"})).status_code == 403
    assert (await env.http.post(url, data={"csrf": csrf, "fn": "melted", "ofd": "up"})).status_code == 400
    assert (await env.http.post(url, data={"csrf": csrf, "fn": "full", "ofd": "down"})).status_code == 303
    kkt = await Accounts(env.db).get_kkt(kkt_id)
    assert kkt is not None and kkt.fn_state == "full"
    page = (await env.http.get("/registers")).text
    row = re.search(rf'<tr id="kkt-{kkt_id}" class="warn">(.*?)</tr>', page, re.S)
    assert row and "<td>full</td>" in row.group(1)
    assert (await env.http.post(url, data={"csrf": csrf, "fn": "ok", "ofd": "up"})).status_code == 303
    kkt = await Accounts(env.db).get_kkt(kkt_id)
    assert kkt is not None and kkt.fn_state == "ok"

    # a merchant owning the kassa still may not
    await Users(env.db).grant_kassa((await Users(env.db).by_login("m1")).id, "901")  # type: ignore[union-attr]
    env.http.cookies.clear()
    assert (await sign_in(env.http, "m1")).status_code == 303
    csrf = csrf_of((await env.http.get("/registers")).text)
    assert 'class="fault"' not in (await env.http.get("/registers")).text
    assert (await env.http.post(url, data={"csrf": csrf, "fn": "broken", "ofd": "up"})).status_code == 404


async def test_bad_input_gets_an_answer_never_a_server_error(env: Env) -> None:
    assert (await sign_in(env.http, "op")).status_code == 303
    csrf = csrf_of((await env.http.get("/kassas")).text)
    gets = [
        "/requests?before=abc", "/requests?before=99999999999999999999999999", "/requests?state=9&kassa=x",
        "/requests?from=2026-13-45&to=yesterday", "/requests?q=" + "x" * 5000, "/requests?q=%00%ff",
        "/requests/newer?after=-1", "/requests/newer?after=999999999999999999999999", "/requests/0",
        "/requests/1/row?x=1", "/registers/99999999999999999999/journal", "/registers/1/journal?page=-3",
        "/registers/1/journal?page=99999999999", "/lang?to=xx&next=//evil", "/nowhere", "/static/../app.py",
    ]
    for path in gets:
        r = await env.http.get(path)
        assert r.status_code < 500, path
    posts: list[tuple[str, Any]] = [
        ("/kassas", {"csrf": csrf, "kassaid": "1" * 21}),
        ("/kassas", {"csrf": csrf, "kassaid": "", "type": "x" * 10_000}),
        ("/kassas/abc", {"csrf": csrf, "action": "rotate"}),
        ("/clusters", {"csrf": csrf, "cluster_id": "-1"}),
        ("/requests/1/requeue", {"csrf": csrf * 100}),
        ("/login", b"\xff\xfe\x00garbage"),
        ("/login", f"csrf={csrf}&login=op%00x&password=p%00".encode()),
        ("/login", b"csrf=" + b"a" * 40_000),
        ("/overview", {"csrf": csrf}),
    ]
    for path, data in posts:
        if isinstance(data, bytes):
            r = await env.http.post(path, content=data, headers={"content-type": "application/x-www-form-urlencoded"})
        else:
            r = await env.http.post(path, data=data)
        assert r.status_code < 500, path
    env.http.cookies.set("kg_session", "x" * 3000, path="/cabinet")
    assert (await env.http.get("/overview")).status_code == 303


async def test_sign_out(env: Env) -> None:
    assert (await sign_in(env.http, "op")).status_code == 303
    csrf = csrf_of((await env.http.get("/overview")).text)
    r = await env.http.post("/logout", data={"csrf": csrf})
    assert r.status_code == 303 and r.headers["location"].endswith("/cabinet/login")
    assert (await env.http.get("/overview")).status_code == 303


async def test_pending_rows_and_new_rows_refresh_themselves(env: Env) -> None:
    assert (await sign_in(env.http, "op")).status_code == 303
    listing = (await env.http.get("/requests")).text
    pending = re.search(rf'<tr id="req-{env.ids["501"]}"[^>]*>', listing)
    debug = re.search(rf'<tr id="req-{env.ids["502"]}"[^>]*>', listing)
    assert pending and f'hx-get="/cabinet/requests/{env.ids["501"]}/row"' in pending.group(0)
    assert debug and "hx-get" not in debug.group(0)
    newer = re.search(r'<tr id="newer" class="poll" hx-get="([^"]+)"', listing)
    assert newer and newer.group(1).endswith(f"after={env.ids['502']}")
    assert (await env.http.get(newer.group(1).replace("&amp;", "&").removeprefix("/cabinet"))).text.count("<tr") == 1
    fresh = await add_request(env.db, "501", nuid="6" * 23, rid="rid-fresh", order="fresh")
    more = (await env.http.get(newer.group(1).replace("&amp;", "&").removeprefix("/cabinet"))).text
    assert ">rid-fresh<" in more and f'after={fresh}"' in more
    async with env.db.write_connection() as conn:
        from sqlalchemy import text

        await conn.execute(text("UPDATE requests SET status = 1, fd_number = 42 WHERE id = :i"), {"i": fresh})
    row = (await env.http.get(f"/requests/{fresh}/row")).text
    assert "hx-get" not in row and ">42<" in row and "fiscalized" in row


async def register_with_history(db: Database, data_dir: Path, kassaid: str, *, days_ago: float,
                                timezone: str = "Europe/Moscow", ofd_down: bool = False) -> tuple[int, Path]:
    """A virtual register made ``days_ago`` days ago (one sale then, the OFD down when it
    was made if ``ofd_down``), bound to a new kassa; its id and journal."""
    import zoneinfo

    from kassagate.cashbox.virtual import VirtualRegister, create_register, set_fault

    then = dt.datetime.now(zoneinfo.ZoneInfo(timezone)) - dt.timedelta(days=days_ago)
    rel = f"registers/history-{kassaid}.sqlite3"
    path = data_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    identity = create_register(path, merchant_id=f"m-{kassaid}", now=then, timezone=timezone)
    if ofd_down:
        set_fault(path, ofd_down=True)
    register = await VirtualRegister.open(path, clock=lambda: then)
    try:
        answer = await register.handle("sale", {
            "amount": 100, "items": [{"itemName": "x", "itemQty": 1000, "itemAmount": 100}],
            "payments": {"cashAmount": 100}, "docTime": then.strftime("%Y-%m-%d %H:%M:%S"), "docNumber": "N-1",
        })
    finally:
        await register.close()
    assert answer["code"] == 0, answer
    acc = Accounts(db, load_or_create_token_key(data_dir))
    kkt_id = await acc.add_kkt(kind="virtual", merchant_id=f"m-{kassaid}", journal_path=rel,
                               fn_serial=identity.fn_serial, kkt_reg_number=identity.kkt_reg_number)
    await acc.add_kassa(kassaid, token=f"secret-token-{kassaid}", kkt_id=kkt_id)
    return kkt_id, path


async def test_registers_warn_before_the_30_day_unsent_block(env: Env, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    near, _ = await register_with_history(env.db, data_dir, "811", days_ago=27, ofd_down=True)
    young, _ = await register_with_history(env.db, data_dir, "812", days_ago=10, ofd_down=True)
    sent, _ = await register_with_history(env.db, data_dir, "813", days_ago=27)
    assert (await sign_in(env.http, "op")).status_code == 303
    page = (await env.http.get("/registers")).text
    rows = {k: re.search(rf'<tr id="kkt-{k}"([^>]*)>(.*?)</tr>', page, re.S) for k in (near, young, sent)}
    assert all(rows.values())
    near_row = rows[near].group(2)  # type: ignore[union-attr]
    assert 'class="warn"' in rows[near].group(1)  # type: ignore[union-attr]
    assert "A document has waited 27 days for the OFD: the fiscal drive blocks at 30 days" in near_row
    assert "oldest 27 d" in near_row
    for quiet in (young, sent):
        assert "warn" not in rows[quiet].group(1) and "waited" not in rows[quiet].group(2)  # type: ignore[union-attr]
    assert "oldest 10 d" in rows[young].group(2)  # type: ignore[union-attr]
    assert "oldest" not in rows[sent].group(2)  # type: ignore[union-attr]
    env.http.cookies.set("kg_lang", "ru")
    ru = (await env.http.get("/registers")).text
    assert "на 30-й день фискальный накопитель блокирует чеки" in ru


async def test_the_journal_shows_times_with_the_registers_offset(env: Env, tmp_path: Path) -> None:
    from kassagate.cashbox.virtual import read_journal

    kkt_id, path = await register_with_history(env.db, tmp_path / "data", "821", days_ago=1,
                                               timezone="Asia/Vladivostok")
    assert (await sign_in(env.http, "op")).status_code == 303
    page = (await env.http.get(f"/registers/{kkt_id}/journal")).text
    times = re.findall(r"<td>(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d\d:\d\d)</td>", page)
    local = [e["time"] for e in read_journal(path) if e.get("time")]
    assert len(times) == len(local) >= 2
    assert times == [f"{t}+10:00" for t in local]


async def test_the_timeline_shows_the_happy_path_from_the_request_row(env: Env) -> None:
    """Processing records no event on the happy path: the page derives the claim and the
    register's answer from the request row."""
    from sqlalchemy import update

    from kassagate.storage.schema import request_events, requests

    request_id = env.ids["501"]
    now = utc_micros()
    async with env.db.write_connection() as conn:
        await conn.execute(update(requests).where(requests.c.id == request_id).values(
            attempts=1, kkt_id=3, lease_owner="worker-host-1", lease_until=now + 60_000_000))
    assert (await sign_in(env.http, "op")).status_code == 303
    page = (await env.http.get(f"/requests/{request_id}")).text
    claimed = re.search(r'<li id="tl-claimed">(.*?)</li>', page, re.S)
    assert claimed and claimed.group(1) == "being processed, attempt 1 (register #3): worker worker-host-1"
    assert 'id="tl-sent"' not in page

    fiscal = 1_760_000_000_000_000
    async with env.db.write_connection() as conn:
        await conn.execute(update(requests).where(requests.c.id == request_id).values(
            status=1, attempts=2, fd_number=41, fiscal_dt=fiscal, finished_at=fiscal + 5_000, lease_owner=None,
            lease_until=None))
        assert (await conn.execute(request_events.select())).first() is None
    page = (await env.http.get(f"/requests/{request_id}")).text
    sent = re.search(r'<li id="tl-sent">(.*?)</li>', page, re.S)
    assert sent and " ".join(sent.group(1).split()) == (
        "<time>2025-10-09 08:53:20 UTC</time> sent to register #3 and fiscalized (attempts: 2): FD 41"
    )
    assert 'id="tl-claimed"' not in page
    # a merchant sees the same lines, without the worker's name
    async with env.db.write_connection() as conn:
        await conn.execute(update(requests).where(requests.c.id == request_id).values(
            status=0, lease_owner="worker-host-1", lease_until=utc_micros() + 60_000_000))
    env.http.cookies.clear()
    assert (await sign_in(env.http, "m1")).status_code == 303
    page = (await env.http.get(f"/requests/{request_id}")).text
    claimed = re.search(r'<li id="tl-claimed">(.*?)</li>', page, re.S)
    assert claimed and claimed.group(1) == "being processed, attempt 2 (register #3)"
