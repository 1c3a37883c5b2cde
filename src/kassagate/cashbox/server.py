"""The register's HTTP server: a raw ASGI app for one ``VirtualRegister``.

Every call is ``POST /<endpoint>`` with the wire body of ``wire.py``; every answer is a
JSON object with HTTP 200, including errors (an unknown endpoint is code 9, a non-POST
method code 2). Nothing here ever answers an HTTP error status or a traceback.

Each call is logged in one line at INFO: request id (the caller's ``X-Request-ID`` or a
new one), endpoint, code and duration; never the body (it holds the merchantID's
signature and the receipt).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from kassagate.core.codes import CashboxCode
from kassagate.core.register import ENDPOINTS, CashboxError, error_answer
from kassagate.logs import begin_request

from .virtual import VirtualRegister
from .wire import decode_request, encode_answer

log = logging.getLogger("kassagate.cashbox.server")

MAX_BODY = 4 * 1024 * 1024

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_ENDPOINTS = frozenset(ENDPOINTS)
_CONTENT_TYPE = (b"content-type", b"application/json; charset=utf-8")


_TOO_LARGE = b"\x00too-large"


async def _read_body(receive: Receive, msg: dict[str, Any]) -> bytes | None:
    """The request body from its first message ``msg`` on, or None when the client left
    (``_TOO_LARGE`` when it exceeds ``MAX_BODY``)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        if msg["type"] == "http.disconnect":
            return None
        chunk = msg.get("body", b"")
        size += len(chunk)
        if size <= MAX_BODY:
            chunks.append(chunk)
        if not msg.get("more_body", False):
            break
        msg = await receive()
    if size > MAX_BODY:
        return _TOO_LARGE
    return b"".join(chunks)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        msg = await receive()
        if msg["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif msg["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def create_app(register: VirtualRegister) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The ASGI app of one register (lifespan is acknowledged; the caller owns the register)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await _lifespan(receive, send)
            return
        started = time.perf_counter()
        msg = await receive()
        body: bytes | None
        if msg["type"] == "http.request" and not msg.get("more_body", False):  # the whole body at once
            body = msg.get("body", b"")
            if len(body) > MAX_BODY:
                body = _TOO_LARGE
        else:
            body = await _read_body(receive, msg)
            if body is None:
                return
        try:
            call = _call(register, scope, body)
            answer = await register.submit(*call) if isinstance(call, tuple) else call
        except Exception:
            log.exception("register server: unexpected error")
            answer = error_answer(CashboxCode.INTERNAL, "internal error of the register")
        out = encode_answer(answer)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [_CONTENT_TYPE, (b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})
        if log.isEnabledFor(logging.INFO):
            _log_call(scope, answer, started)

    return app


def limit_answer(status: int, message: str) -> bytes:
    """The body of an HTTP refusal (``kassagate.http_limits``: headers too large or too
    slow, body too slow, too many connections) in the protocol's form: code 2, and what
    was over which limit."""
    return encode_answer(error_answer(CashboxCode.INVALID_JSON, message))


def _log_call(scope: Scope, answer: dict[str, Any], started: float) -> None:
    header = next((v for k, v in scope.get("headers", ()) if k == b"x-request-id"), None)
    trace = begin_request(header)
    ms = round((time.perf_counter() - started) * 1000, 2)
    endpoint = scope["path"].strip("/")[:40]
    fields = {"request_id": trace.request_id,
              "endpoint": endpoint if endpoint in _ENDPOINTS else "(unknown)", "code": answer.get("code"),
              "duration_ms": ms}
    log.info("call", extra={"fields": fields})


def _call(register: VirtualRegister, scope: Scope, body: bytes) -> tuple[str, dict[str, Any]] | dict[str, Any]:
    """(endpoint, request) for the register, or the error answer to send at once."""
    endpoint = scope["path"].strip("/")
    if scope["method"] != "POST":
        return error_answer(CashboxCode.INVALID_JSON, f"use POST /<endpoint> with data=..&sign=.., not "
                                                      f"{scope['method'][:10]}")
    if endpoint not in _ENDPOINTS:
        return error_answer(CashboxCode.NOT_FOUND, f"unknown endpoint /{endpoint[:40]}: the endpoints are "
                            + ", ".join(f"/{e}" for e in ENDPOINTS))
    if body == _TOO_LARGE:
        return error_answer(CashboxCode.INVALID_JSON, f"the body exceeds {MAX_BODY} bytes")
    try:
        return endpoint, decode_request(body, register.merchant_id)
    except CashboxError as e:
        return e.answer()
