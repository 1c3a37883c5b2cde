"""The callback sender's outcome per attempt: one log line (no URL, no secret, no body) and
the metric, for a retry and then a delivery."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, update

from kassagate.metrics import Metrics
from kassagate.processing.callbacks import CallbackSender
from kassagate.storage.db import open_database
from kassagate.storage.outbox import ENQUEUE, enqueue_params
from kassagate.storage.repos import Accounts
from kassagate.storage.schema import callbacks, requests

URL = "https://merchant.example/hook?key=url-secret-77"
SECRET = "callback-secret-0001"


async def test_each_attempt_is_one_line_and_a_count(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = await open_database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    answers = [500, 200]
    sent: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        return httpx.Response(answers.pop(0))

    async def render(request_id: int) -> dict[str, Any]:
        return {"check_nuid": "1" * 23, "client_email": "buyer@example.com"}

    metrics = Metrics()
    sender = CallbackSender(db, render=render, base_delay=0.0, on_outcome=metrics.callback_ended)
    await sender._client.aclose()
    sender._client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    try:
        await Accounts(db, bytes(32)).add_kassa("77", token="t", callback_url=URL, callback_secret=SECRET)
        async with db.write_connection() as conn:
            await conn.execute(insert(requests).values(
                nuid="1" * 23, qnuid="2" * 23, mode="kassa", kassaid="77", receipt="{}", receipt_hash="0" * 64,
                check_type=1, debug=False, accepted_at=0, status=1))
            await conn.execute(ENQUEUE, enqueue_params(1, "77"))  # the worker's outbox row
        with caplog.at_level(logging.INFO, logger="kassagate.callbacks"):
            assert await sender.deliver_due() == 1
            async with db.write_connection() as conn:
                await conn.execute(update(callbacks).values(next_attempt_at=0))
            assert await sender.deliver_due() == 1
        lines = [r for r in caplog.records if r.name == "kassagate.callbacks"]
        assert [r.getMessage() for r in lines] == [
            "callback for request 1 failed (HTTP 500); retry in 0 s", "callback for request 1 delivered"]
        assert [r.fields["attempt"] for r in lines] == [1, 2]  # type: ignore[attr-defined]
        text = caplog.text + str([r.__dict__ for r in lines])
        for secret in (URL, "url-secret-77", SECRET, "buyer@example.com"):
            assert secret not in text
        assert len(sent) == 2
        rendered = metrics.render().decode()
        assert 'kassagate_callbacks_total{outcome="retry"} 1.0' in rendered
        assert 'kassagate_callbacks_total{outcome="delivered"} 1.0' in rendered
    finally:
        await sender._client.aclose()
        await db.close()

