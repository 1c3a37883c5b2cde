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

from kassagate.storage.db import Database
from kassagate.storage.outbox import CallbackOutbox, DueCallback

log = logging.getLogger("kassagate.callbacks")

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
        self._outbox = CallbackOutbox(self.db)

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
        due = await self._outbox.take_due(limit=self.concurrency, lease_us=int((self.timeout + 5) * 1_000_000))
        if due:
            await asyncio.gather(*(self._deliver(cb) for cb in due))
        return len(due)

    async def _deliver(self, cb: DueCallback) -> None:
        error: str | None = None
        try:
            secret = await self._outbox.secret(cb.kassaid)
            status = await self.render(cb.request_id)
            if status is None:
                error = "the request no longer exists"
            else:
                body = json.dumps(status, ensure_ascii=False, separators=(",", ":")).encode()
                ts = int(time.time())
                headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: str(ts)}
                if secret:
                    headers[SIGNATURE_HEADER] = sign(secret, ts, body)
                resp = await self._client.post(cb.url, content=body, headers=headers)
                if not 200 <= resp.status_code < 300:
                    error = f"HTTP {resp.status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}"
        except Exception as exc:
            log.exception("callback %s: unexpected failure", cb.id)
            error = f"internal error ({type(exc).__name__})"
        # One line per attempt; never the URL (it may hold a secret) nor the body.
        request_id, attempts = cb.request_id, cb.attempts
        fields = {"request": request_id, "kassaid": cb.kassaid, "attempt": attempts, "error": error}
        delay = 0.0
        if error is None:
            outcome = "delivered"
            log.info("callback for request %s delivered", request_id, extra={"fields": fields})
        elif attempts >= self.max_attempts:
            outcome = "failed"
            log.warning("callback for request %s: giving up after %s attempts (%s)", request_id, attempts, error,
                        extra={"fields": fields})
        else:
            delay = min(self.base_delay * 2 ** (attempts - 1), self.max_delay)
            outcome = "retry"
            log.info("callback for request %s failed (%s); retry in %g s", request_id, error, delay,
                     extra={"fields": fields})
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        if error is None:
            await self._outbox.delivered(cb.id)
        elif outcome == "failed":
            await self._outbox.give_up(cb.id, error)
        else:
            await self._outbox.retry(cb.id, error, delay_us=int(delay * 1_000_000))
