"""The register's ASGI app driven directly: a body in one message or in chunks, a body
over the limit, a client that leaves, other methods and paths, lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from kassagate.cashbox import server
from kassagate.cashbox.virtual import VirtualRegister, create_register
from kassagate.cashbox.wire import encode_request

MID = "mid"
SALE = {"amount": 100, "items": [{"itemName": "x", "itemQty": 1000, "itemAmount": 100}],
        "payments": {"cashAmount": 100}, "docTime": "2026-03-02 10:00:00", "docNumber": "1"}


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Any]:
    path = tmp_path / "r.sqlite3"
    create_register(path, merchant_id=MID)
    r = await VirtualRegister.open(path)
    yield server.create_app(r)
    await r.close()


async def call(app: Any, messages: list[dict[str, Any]], *, method: str = "POST", path: str = "/sale",
               kind: str = "http") -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    async def send(msg: dict[str, Any]) -> None:
        sent.append(msg)

    await app({"type": kind, "method": method, "path": path}, receive, send)
    return sent


def answer(sent: list[dict[str, Any]]) -> dict[str, Any]:
    start, body = sent
    assert start["status"] == 200
    assert dict(start["headers"])[b"content-length"] == str(len(body["body"])).encode()
    out: dict[str, Any] = msgspec.json.decode(body["body"])
    return out


async def test_body_in_one_message_or_in_chunks(app: Any) -> None:
    body = encode_request(SALE, MID)
    one = answer(await call(app, [{"type": "http.request", "body": body}]))
    assert one["code"] == 0
    parts = [body[:7], body[7:100], body[100:]]
    chunks = [{"type": "http.request", "body": p, "more_body": i < 2} for i, p in enumerate(parts)]
    again = answer(await call(app, chunks))
    assert again["code"] == 0 and again["fiscalID"] == one["fiscalID"]  # the same document


async def test_body_over_the_limit(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "MAX_BODY", 50)
    body = encode_request(SALE, MID)
    a = answer(await call(app, [{"type": "http.request", "body": body}]))
    assert a["code"] == 2 and "exceeds" in a["message"]
    chunks = [{"type": "http.request", "body": body[:40], "more_body": True},
              {"type": "http.request", "body": body[40:]}]
    b = answer(await call(app, chunks))
    assert b["code"] == 2 and "exceeds" in b["message"]


async def test_client_that_leaves_gets_nothing(app: Any) -> None:
    assert await call(app, [{"type": "http.disconnect"}]) == []
    chunks = [{"type": "http.request", "body": b"data=", "more_body": True}, {"type": "http.disconnect"}]
    assert await call(app, chunks) == []


async def test_methods_paths_and_signatures(app: Any) -> None:
    body = encode_request(SALE, MID)
    assert answer(await call(app, [{"type": "http.request", "body": body}], method="GET"))["code"] == 2
    assert answer(await call(app, [{"type": "http.request", "body": body}], path="/nope"))["code"] == 9
    bad = encode_request(SALE, "other-merchant")
    assert answer(await call(app, [{"type": "http.request", "body": bad}]))["code"] == 1
    assert answer(await call(app, [{"type": "http.request", "body": b""}]))["code"] == 3


async def test_lifespan_and_other_scopes(app: Any) -> None:
    sent = await call(app, [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}], kind="lifespan")
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert await call(app, [], kind="websocket") == []
