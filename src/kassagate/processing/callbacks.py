"""Callbacks: when a request ends, kassagate POSTs its status to the kassa's callback URL.

Durable and never in the way of processing: the worker writes an outbox row in the same
transaction that ends the request; a separate loop delivers it, retrying with backoff.

The body is the request's status JSON (the same object as ``GET /v1/status``). It is
signed with HMAC-SHA256 under the kassa's callback secret:

    X-Kassagate-Timestamp: <unix seconds>
    X-Kassagate-Signature: sha256=<hex of HMAC-SHA256(secret, "<timestamp>." + body)>

A receiver recomputes the HMAC over the timestamp, a dot and the raw body, compares in
constant time, and rejects timestamps far from its clock (replays).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    and_,
    bindparam,
    insert,
    literal,
    or_,
    select,
    update,
)

from kassagate.storage.db import Database, utc_micros
from kassagate.storage.schema import Id, kassas, metadata
from kassagate.storage.sqlite_thread import sqlite_statement

log = logging.getLogger("kassagate.callbacks")

callbacks = Table(
    "callbacks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("request_id", Id, ForeignKey("requests.id"), nullable=False, unique=True),
    Column("kassaid", String(20), nullable=False),
    Column("url", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("lease_until", BigInteger, nullable=True),
    Column("delivered_at", BigInteger, nullable=True),
    Column("gave_up_at", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
)

SIGNATURE_HEADER = "X-Kassagate-Signature"
TIMESTAMP_HEADER = "X-Kassagate-Timestamp"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def verify(
    secret: str, timestamp: int, body: bytes, signature: str, *, now: float | None = None, tolerance: int = 300
) -> bool:
    """What a receiver does (and what the tests do)."""
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def _enqueue_statement() -> Any:
    """The outbox row of an ended request, written in the transaction that ends it when
    its kassa has a callback URL (an ``INSERT … SELECT`` from the kassa: no row without
    a URL)."""
    now = bindparam("cb_now", type_=BigInteger)
    return insert(callbacks).from_select(
        ["request_id", "kassaid", "url", "attempts", "next_attempt_at", "created_at"],
        select(
            bindparam("cb_request_id", type_=BigInteger),
            kassas.c.kassaid,
            kassas.c.callback_url,
            literal(0, type_=Integer),
            now,
            now,
        ).where(
            kassas.c.kassaid == bindparam("cb_kassaid", type_=String),
            kassas.c.callback_url.is_not(None),
            kassas.c.callback_url != "",
        ),
    )


ENQUEUE = _enqueue_statement()
ENQUEUE_SQLITE = sqlite_statement(ENQUEUE)


def enqueue_params(request_id: int, kassaid: str) -> dict[str, Any]:
    """The parameters of :data:`ENQUEUE`."""
    return {"cb_request_id": request_id, "cb_kassaid": kassaid, "cb_now": utc_micros()}


@dataclass
class CallbackSender:
    db: Database
    render: Callable[[int], Awaitable[dict[str, Any] | None]]  # request id -> status JSON
    timeout: float = 5.0
    max_attempts: int = 15
    base_delay: float = 1.0
    max_delay: float = 600.0
    poll_seconds: float = 0.5
    concurrency: int = 8
    #: Called with each attempt's outcome: delivered, retry or failed (given up).
    on_outcome: Callable[[str], None] | None = None

    def __post_init__(self) -> None:
        self._wake = asyncio.Event()
        self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    sent = await self.deliver_due()
                except Exception:
                    log.exception("callback delivery round failed")
                    sent = 0
                if sent:
                    continue
                self._wake.clear()
                waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
                _done, pending = await asyncio.wait(waits, timeout=self.poll_seconds, return_when="FIRST_COMPLETED")
                for p in pending:
                    p.cancel()
        finally:
            await self._client.aclose()

    async def deliver_due(self) -> int:
        now = utc_micros()
        lease = now + int((self.timeout + 5) * 1_000_000)
        due = (
            select(callbacks.c.id)
            .where(
                callbacks.c.delivered_at.is_(None),
                callbacks.c.gave_up_at.is_(None),
                callbacks.c.next_attempt_at <= now,
                or_(callbacks.c.lease_until.is_(None), callbacks.c.lease_until < now),
            )
            .order_by(callbacks.c.id)
            .limit(self.concurrency)
        )
        if not self.db.is_sqlite:
            due = due.with_for_update(skip_locked=True)
        async with self.db.write_connection() as conn:
            rows = (
                await conn.execute(
                    update(callbacks)
                    .where(callbacks.c.id.in_(due.scalar_subquery()))
                    .values(lease_until=lease, attempts=callbacks.c.attempts + 1)
                    .returning(
                        callbacks.c.id,
                        callbacks.c.request_id,
                        callbacks.c.kassaid,
                        callbacks.c.url,
                        callbacks.c.attempts,
                    )
                )
            ).all()
        if rows:
            await asyncio.gather(*(self._deliver(*row) for row in rows))
        return len(rows)

    async def _deliver(self, cb_id: int, request_id: int, kassaid: str, url: str, attempts: int) -> None:
        error: str | None = None
        try:
            async with self.db.engine.connect() as conn:
                secret = (
                    await conn.execute(select(kassas.c.callback_secret).where(kassas.c.kassaid == kassaid))
                ).scalar()
            status = await self.render(request_id)
            if status is None:
                error = "the request no longer exists"
            else:
                body = json.dumps(status, ensure_ascii=False, separators=(",", ":")).encode()
                ts = int(time.time())
                headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: str(ts)}
                if secret:
                    headers[SIGNATURE_HEADER] = sign(secret, ts, body)
                resp = await self._client.post(url, content=body, headers=headers)
                if not 200 <= resp.status_code < 300:
                    error = f"HTTP {resp.status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}"
        except Exception as exc:
            log.exception("callback %s: unexpected failure", cb_id)
            error = f"internal error ({type(exc).__name__})"
        now = utc_micros()
        values: dict[str, Any] = {"lease_until": None, "last_error": error}
        # One line per attempt; never the URL (it may hold a secret) nor the body.
        fields = {"request": request_id, "kassaid": kassaid, "attempt": attempts, "error": error}
        if error is None:
            values["delivered_at"] = now
            outcome = "delivered"
            log.info("callback for request %s delivered", request_id, extra={"fields": fields})
        elif attempts >= self.max_attempts:
            values["gave_up_at"] = now
            outcome = "failed"
            log.warning("callback for request %s: giving up after %s attempts (%s)", request_id, attempts, error,
                        extra={"fields": fields})
        else:
            delay = min(self.base_delay * 2 ** (attempts - 1), self.max_delay)
            values["next_attempt_at"] = now + int(delay * 1_000_000)
            outcome = "retry"
            log.info("callback for request %s failed (%s); retry in %g s", request_id, error, delay,
                     extra={"fields": fields})
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        async with self.db.write_connection() as conn:
            await conn.execute(update(callbacks).where(and_(callbacks.c.id == cb_id)).values(**values))
