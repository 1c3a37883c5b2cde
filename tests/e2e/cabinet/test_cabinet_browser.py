"""The cabinet in a real browser: Debian's Chromium driven by Playwright, against
``kassagate serve --demo`` as a real process.

Skipped, saying why, when ``/usr/bin/chromium`` or Playwright is missing; with
``KASSAGATE_REQUIRE_BROWSER=1`` (set by ``.ci/run``) they fail instead. With
``KASSAGATE_SCREENSHOTS=1`` the screenshots of every page are written to ``docs/cabinet/``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kassagate.client import KassaClient
from kassagate.config import load_settings
from kassagate.core.codes import FrontCode
from kassagate.storage import open_database
from kassagate.storage.repos import Accounts
from support.receipts import product, receipt
from support.system import Process, free_port, kassagate_env, run_cli

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS_SHOTS = Path(__file__).resolve().parents[3] / "docs" / "cabinet"
BUYER = "buyer@example.com"


def _browser_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright)"
    return None


@pytest.fixture(scope="module")
def playwright_browser() -> Iterator[Any]:
    reason = _browser_missing()
    if reason is not None:
        if os.environ.get("KASSAGATE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"KASSAGATE_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Demo:
    url: str
    data_dir: Path
    env: dict[str, str]
    login: str
    password: str
    token: str
    shots: Path

    def cli(self, *args: str) -> str:
        return run_cli(*args, data_dir=self.data_dir, env=self.env).stdout


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    if _browser_missing() is not None and os.environ.get("KASSAGATE_REQUIRE_BROWSER") != "1":
        pytest.skip(str(_browser_missing()))
    root = tmp_path_factory.mktemp("cabinet")
    data_dir = root / "data"
    data_dir.mkdir()
    port = free_port()
    # a request whose register keeps refusing fails after a few quick retries
    env = kassagate_env(data_dir, KASSAGATE_RETRY_BASE_SECONDS="0.05", KASSAGATE_RETRY_BUDGET="3")
    log = root / "serve.log"
    server = Process(
        ["serve", "--demo", "--port", str(port), "--host", "127.0.0.1"],
        env=env,
        ready_url=f"http://127.0.0.1:{port}/v1/keys",
        log_path=log,
    ).start(timeout=120)
    try:
        out = log.read_text()
        found = re.search(
            r"cabinet\s*: (http://\S+/cabinet/)\s+\(login (\S+), password (\S+) \(shown this once\)\)", out
        )
        assert found, out
        assert found.group(1) == f"http://127.0.0.1:{port}/cabinet/"
        token = json.loads((data_dir / "demo.json").read_text())["token"]
        shots = root / "shots"
        shots.mkdir()
        yield Demo(f"http://127.0.0.1:{port}", data_dir, env, found.group(2), found.group(3), token, shots)
        if os.environ.get("KASSAGATE_SCREENSHOTS") == "1":
            DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
            for png in shots.glob("*.png"):
                shutil.copyfile(png, DOCS_SHOTS / png.name)
    finally:
        server.stop()


def shot(page: Any, demo: Demo, name: str) -> None:
    page.screenshot(path=str(demo.shots / f"{name}.png"), full_page=True)


def sign_in(page: Any, demo: Demo, login: str, password: str) -> None:
    page.goto(f"{demo.url}/cabinet/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    page.click("form.login button[type=submit]")
    page.wait_for_url(re.compile(r".*/cabinet/overview$"))


def send(demo: Demo, kassaid: str, token: str, **kw: Any) -> Any:
    with KassaClient(demo.url, kassaid=kassaid, kassatoken=token) as k:
        answer = k.send(receipt(kassaid, token, **kw), rid=kw.pop("rid_", None))
        assert answer.accepted, answer
        return answer


def test_sign_in_see_a_receipt_arrive_and_open_it(playwright_browser: Any, demo: Demo) -> None:
    ctx = playwright_browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    page.goto(f"{demo.url}/cabinet/")
    page.wait_for_url(re.compile(r".*/cabinet/login$"))
    shot(page, demo, "login")
    page.fill("input[name=login]", demo.login)
    page.fill("input[name=password]", "not the password")
    page.click("form.login button[type=submit]")
    assert page.locator(".error").inner_text() == "Wrong login or password."
    sign_in(page, demo, demo.login, demo.password)

    page.goto(f"{demo.url}/cabinet/requests")
    page.evaluate("window.__stayed = true")  # gone if the page reloads
    products = [product("Green tea", 15000, 1), product("Honey, 250 g", 42050, "2", 100, 12)]
    answer = send(demo, "100001", demo.token, products=products, name_zakaz="order-77")
    row = page.locator("#requests tbody tr", has_text="order-77")
    row.wait_for(timeout=15_000)
    row.locator(".badge.st1").wait_for(timeout=20_000)  # fiscalized, without reloading
    assert page.evaluate("window.__stayed") is True
    assert BUYER not in page.content()
    shot(page, demo, "requests")

    row.locator("a").first.click()
    page.wait_for_url(re.compile(r".*/cabinet/requests/\d+$"))
    lines = page.locator("#lines tbody tr")
    assert lines.count() == 2
    assert "Honey, 250 g" in lines.nth(1).inner_text() and "840.00" in lines.nth(1).inner_text()
    assert page.locator("#total").inner_text() == "990.00"
    assert page.locator("#fd").inner_text().isdigit()
    assert page.locator("#buyer").inner_text() == "b***@example.com"
    qr = page.locator("img#qr")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 50")  # a decoded picture
    assert answer.nuid in page.content()
    assert page.locator("#debug-banner").count() == 0
    assert "accepted" in page.locator("#timeline").inner_text()
    # the happy path, derived from the request row (processing records no event for it)
    assert re.fullmatch(r"\S+ \S+ UTC sent to register #\d+ and fiscalized \(attempts: 1\): FD \d+",
                        page.locator("#tl-sent").inner_text())
    shot(page, demo, "request")

    page.goto(f"{demo.url}/cabinet/overview")
    shot(page, demo, "overview")
    page.goto(f"{demo.url}/cabinet/registers")
    assert "100001" in page.locator("#registers").inner_text()
    shot(page, demo, "registers")
    page.locator("#registers a", has_text="Journal").first.click()
    page.wait_for_url(re.compile(r".*/journal$"))
    assert answer.nuid in page.locator("#journal").inner_text()
    # times in the register's local time with its offset (the demo register keeps Moscow time)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+03:00", page.locator("#journal").inner_text())
    shot(page, demo, "journal")
    ctx.close()


def test_a_kassa_created_in_the_cabinet_shows_its_token_once_and_debug_is_marked(
    playwright_browser: Any, demo: Demo
) -> None:
    ctx = playwright_browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    sign_in(page, demo, demo.login, demo.password)
    page.goto(f"{demo.url}/cabinet/kassas")
    page.fill("input[name=kassaid]", "200002")
    page.check("input[name=debug]")
    page.click("#create-kassa button[type=submit]")
    token = page.locator("#new-token").inner_text()
    assert len(token) >= 24
    shot(page, demo, "kassa-created")
    page.goto(f"{demo.url}/cabinet/kassas")
    assert token not in page.content()
    assert page.locator("#kassa-200002 .badge.st3").count() == 1
    shot(page, demo, "kassas")

    with KassaClient(demo.url, kassaid="200002", kassatoken=token) as k:
        answer = k.send(receipt("200002", token, name_zakaz="debug-order"))
    assert answer.code == FrontCode.ACCEPTED_DEBUG  # the token works: accepted, in debug mode
    page.goto(f"{demo.url}/cabinet/requests?q=debug-order")
    row = page.locator("#requests tbody tr", has_text="debug-order")
    assert row.locator(".badge.st3").inner_text() == "DEBUG"
    row.locator("a").first.click()
    page.wait_for_url(re.compile(r".*/cabinet/requests/\d+$"))
    assert "not a fiscal document" in page.locator("#debug-banner").inner_text()
    shot(page, demo, "request-debug")
    ctx.close()


def test_a_merchant_cannot_open_another_merchants_request(playwright_browser: Any, demo: Demo, tmp_path: Path) -> None:
    demo.cli("kassa", "add", "300003", "--token", "merchant-token-300003")
    pw = tmp_path / "pw"
    pw.write_text("merchant password\n")
    demo.cli("user", "add", "shop", "--kassa", "300003", "--password-file", str(pw))
    other = send(demo, "100001", demo.token, name_zakaz="not-for-shop")
    mine = send(demo, "300003", "merchant-token-300003", name_zakaz="shop-order")
    ctx = playwright_browser.new_context(locale="en-US")
    page = ctx.new_page()
    sign_in(page, demo, "shop", "merchant password")
    page.goto(f"{demo.url}/cabinet/requests")
    listing = page.locator("#requests").inner_text()
    assert "shop-order" in listing and "not-for-shop" not in listing and "order-77" not in listing
    page.locator("#requests tbody tr", has_text="shop-order").locator("a").first.click()
    page.wait_for_url(re.compile(r".*/cabinet/requests/\d+$"))
    assert mine.nuid in page.content()
    own_id = int(page.url.rsplit("/", 1)[1])
    for request_id in range(1, own_id):
        response = page.goto(f"{demo.url}/cabinet/requests/{request_id}")
        assert response is not None and response.status == 404, request_id
        assert other.nuid not in page.content()
    ctx.close()


def test_the_language_follows_the_browser_and_the_switch(playwright_browser: Any, demo: Demo) -> None:
    ctx = playwright_browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    sign_in(page, demo, demo.login, demo.password)
    assert page.locator("nav").inner_text().split()[:1] == ["Обзор"]
    shot(page, demo, "overview-ru")
    page.click("#lang-switch")
    page.wait_for_url(re.compile(r".*/cabinet/overview$"))
    assert "Overview" in page.locator("nav").inner_text()
    page.goto(f"{demo.url}/cabinet/requests")
    assert page.locator("h1").inner_text() == "Requests"
    page.click("#lang-switch")
    page.wait_for_url(re.compile(r".*/cabinet/requests$"))
    assert page.locator("h1").inner_text() == "Запросы"
    ctx.close()


async def register_merchant_ids(demo: Demo) -> list[str]:
    db = await open_database(load_settings(env=demo.env).effective_database_url)
    try:
        acc = Accounts(db)
        kassas = [await acc.get_kassa(k) for k in ("100001", "200002", "300003")]
        return [k.kkt.merchant_id for k in kassas if k is not None and k.kkt is not None and k.kkt.merchant_id]
    finally:
        await db.close()


def test_no_page_or_url_shows_a_secret(playwright_browser: Any, demo: Demo) -> None:
    send(demo, "100001", demo.token, name_zakaz="secret-check")
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API keeps an event loop in this thread
        merchant_ids = pool.submit(asyncio.run, register_merchant_ids(demo)).result()
    assert len(merchant_ids) >= 2 and all(merchant_ids)
    ctx = playwright_browser.new_context(locale="en-US")
    page = ctx.new_page()
    seen: list[tuple[str, str]] = []
    page.on("response", lambda r: seen.append((r.url, r.text() if "text/html" in r.headers.get("content-type", "")
                                                else "")))
    sign_in(page, demo, demo.login, demo.password)
    for path in ("/cabinet/overview", "/cabinet/requests", "/cabinet/kassas", "/cabinet/registers"):
        page.goto(demo.url + path)
    page.goto(f"{demo.url}/cabinet/requests?q=secret-check")
    page.locator("#requests tbody tr a").first.click()
    page.wait_for_url(re.compile(r".*/cabinet/requests/\d+$"))
    page.goto(f"{demo.url}/cabinet/registers")
    page.locator("#registers a", has_text="Journal").first.click()
    page.wait_for_url(re.compile(r".*/journal$"))
    time.sleep(0.5)
    secrets_ = [demo.token, demo.password, "merchant-token-300003", *merchant_ids]
    assert len(seen) > 8
    for url, body in seen:
        for secret in secrets_:
            assert secret not in url and secret not in body, url
        if "/cabinet/requests" in url and "/requests/" not in url:
            assert BUYER not in body, url
    ctx.close()


async def journal_path(demo: Demo, kassaid: str) -> Path:
    db = await open_database(load_settings(env=demo.env).effective_database_url)
    try:
        kassa = await Accounts(db).get_kassa(kassaid)
        assert kassa is not None and kassa.kkt is not None
        path = kassa.kkt.journal_file(demo.data_dir)
        assert path is not None
        return path
    finally:
        await db.close()


def test_a_failed_request_requeued_in_the_cabinet_is_fiscalized_once(playwright_browser: Any, demo: Demo) -> None:
    from kassagate.cashbox.virtual import set_fault

    demo.cli("kassa", "add", "400004", "--token", "token-400004-abcdefgh")
    with ThreadPoolExecutor(1) as pool:
        path = pool.submit(asyncio.run, journal_path(demo, "400004")).result()
    set_fault(path, fn="broken")  # the register refuses; the database does not know yet
    with KassaClient(demo.url, kassaid="400004", kassatoken="token-400004-abcdefgh") as k:
        answer = k.send(receipt("400004", "token-400004-abcdefgh", name_zakaz="requeue-me"))
        assert answer.accepted, answer
        deadline = time.monotonic() + 30
        while (status := k.get_status(answer.nuid, answer.qnuid)).check_status == 0:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    assert status.check_status == 2, status
    set_fault(path, fn="ok")

    ctx = playwright_browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    sign_in(page, demo, demo.login, demo.password)
    # wait until processing's monitor has seen the register healthy again
    deadline = time.monotonic() + 30
    while True:
        page.goto(f"{demo.url}/cabinet/overview")
        if page.locator("#fig-warned").inner_text() == "0":
            break
        assert time.monotonic() < deadline, "the register never came back"
        time.sleep(0.5)
    page.goto(f"{demo.url}/cabinet/requests?q=requeue-me")
    page.locator("#requests tbody tr a").first.click()
    page.wait_for_url(re.compile(r".*/cabinet/requests/\d+$"))
    assert page.locator("#state").inner_text() == "failed"
    shot(page, demo, "request-failed")
    page.click("#requeue button")
    page.wait_for_url(re.compile(r".*/cabinet/requests/\d+$"))
    page.evaluate("window.__stayed = true")  # the pending page updates itself, without a reload
    page.locator("#state", has_text="fiscalized").wait_for(timeout=30_000)
    assert page.evaluate("window.__stayed") is True
    assert page.locator("main#pending").count() == 0  # and stops asking once it ended
    assert "requeued" in page.locator("#timeline").inner_text()
    assert page.locator("img#qr").evaluate("img => img.complete && img.naturalWidth > 50")
    ctx.close()
    docs = [json.loads(x) for x in demo.cli("kkt", "journal", "400004").splitlines() if x.strip()]
    assert len([d for d in docs if d.get("docNumber") == answer.nuid]) == 1
