"""The outermost ASGI guard: an exception that escapes the app becomes code 80 with a
correlation id and HTTP 200, never a 500; after the response started, nothing more is sent."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from kassagate.front.app import CatchAll


async def run(app: Any) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await CatchAll(app)({"type": "http", "method": "GET", "path": "/"}, receive, send)
    return sent


async def test_exception_before_the_response_is_code_80(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise ValueError("boom")

    with caplog.at_level(logging.ERROR):
        sent = await run(broken)
    assert sent[0]["status"] == 200
    body = json.loads(sent[1]["body"])
    assert body["status"] == "error" and body["code"] == "80"
    cid = body["error"].rsplit("Correlation id: ", 1)[1].rstrip(".")
    assert any(cid in r.getMessage() for r in caplog.records)


async def test_exception_after_the_response_started_sends_nothing_more() -> None:
    async def half(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise ValueError("boom")

    sent = await run(half)
    assert [m["type"] for m in sent] == ["http.response.start"]
