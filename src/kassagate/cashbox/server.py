"""The register's HTTP server: a raw ASGI app for one ``VirtualRegister``.

Every call is ``POST /<endpoint>`` with the wire body of ``wire.py``; every answer is a
JSON object with HTTP 200, including errors (an unknown endpoint is code 9, a non-POST
method code 2). Nothing here ever answers an HTTP error status or a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from kassagate.core.codes import CashboxCode
from kassagate.core.register import ENDPOINTS, CashboxError, error_answer

from .virtual import VirtualRegister
from .wire import decode_request, encode_answer

log = logging.getLogger("kassagate.cashbox.server")

MAX_BODY = 4 * 1024 * 1024

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_ENDPOINTS = frozenset(ENDPOINTS)
_HEADERS_BASE = [(b"content-type", b"application/json; charset=utf-8")]


async def _read_body(receive: Receive) -> bytes | None:
    """The request body, or None when it exceeds ``MAX_BODY`` or the client left."""
    chunks: list[bytes] = []
    size = 0
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            return None
        chunk = msg.get("body", b"")
        size += len(chunk)
        if size <= MAX_BODY:
            chunks.append(chunk)
        if not msg.get("more_body", False):
            break
    if size > MAX_BODY:
        return b"\x00too-large"
    return b"".join(chunks)


def create_app(register: VirtualRegister) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The ASGI app of one register (lifespan is acknowledged; the caller owns the register)."""

    async def respond(send: Send, answer: dict[str, Any]) -> None:
        body = encode_answer(answer)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*_HEADERS_BASE, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        if body is None:
            return
        try:
            answer = await _answer(register, scope, body)
        except Exception:
            log.exception("register server: unexpected error")
            answer = error_answer(CashboxCode.INTERNAL, "internal error of the register")
        await respond(send, answer)

    return app


async def _answer(register: VirtualRegister, scope: Scope, body: bytes) -> dict[str, Any]:
    endpoint = scope["path"].strip("/")
    if scope["method"] != "POST":
        return error_answer(CashboxCode.INVALID_JSON, f"use POST /<endpoint> with data=..&sign=.., not "
                                                      f"{scope['method'][:10]}")
    if endpoint not in _ENDPOINTS:
        return error_answer(CashboxCode.NOT_FOUND, f"unknown endpoint /{endpoint[:40]}: the endpoints are "
                            + ", ".join(f"/{e}" for e in ENDPOINTS))
    if body == b"\x00too-large":
        return error_answer(CashboxCode.INVALID_JSON, f"the body exceeds {MAX_BODY} bytes")
    try:
        request = decode_request(body, register.merchant_id)
    except CashboxError as e:
        return e.answer()
    return await register.handle(endpoint, request)
