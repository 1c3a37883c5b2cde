"""The front server's ASGI app (Starlette, msgspec JSON).

Routes: ``POST /v1/fiscalize`` and ``/srv/igd.php`` (kassa mode), ``POST /v1/fiscalize/cluster``,
``GET /v1/status`` and ``/getfp``, ``GET /v1/keys``, the QR picture ``GET /v1/qr.png`` and the
public receipt page ``GET /check`` (both by ``nuid`` and ``qnuid``); for operators ``/healthz``,
``/readyz``, ``/metrics`` and ``/openapi.json`` (``front/observe.py``). Every intake answer is JSON with
``status`` and ``code``; no request ever gets an HTTP 500 (an unexpected failure is code 80
with a correlation id, logged). Every other answer is JSON too: an unknown path is HTTP
404, a method a path does not take HTTP 405 (on an intake path with the code of a bad
envelope, 90 or 150), both with ``status`` and ``error``.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kassagate.core.codes import FRONT_MESSAGES, FrontCode
from kassagate.front.context import FrontContext
from kassagate.front.intake import Handover, Mode
from kassagate.front.observe import Check, observe_routes
from kassagate.front.qr_png import qr_png
from kassagate.front.receipt_page import render_receipt_page
from kassagate.front.status import QR_IMAGE_PATH, RECEIPT_PAGE_PATH, status_body, valid_ids
from kassagate.logs import Trace, begin_request
from kassagate.metrics import Metrics

log = logging.getLogger("kassagate.front.app")
_encode = msgspec.json.Encoder().encode


def json_response(body: dict[str, Any], status: int = 200) -> Response:
    return Response(_encode(body), status_code=status, media_type="application/json")


def unexpected_body(cid: str) -> bytes:
    return _encode(
        {"status": "error", "code": "80", "error": f"{FRONT_MESSAGES[FrontCode.UNEXPECTED]} Correlation id: {cid}."}
    )


class CatchAll:
    """Outermost ASGI guard: an exception that escapes everything becomes code 80, HTTP 200."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, guarded_send)
        except Exception as exc:
            cid = uuid.uuid4().hex[:16]
            log.error("unhandled failure (correlation id %s): %s", cid, type(exc).__name__, exc_info=exc)
            if started:
                return
            body = unexpected_body(cid)
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
                }
            )
            await send({"type": "http.response.body", "body": body})


async def _send_json(send: Send, status: int, payload: bytes, *extra: tuple[bytes, bytes]) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload)), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def create_front_app(
    ctx: FrontContext,
    *,
    handover: Handover | None = None,
    wait_for: Callable[[int, float], Awaitable[dict[str, Any] | None]] | None = None,
    close_on_shutdown: bool = False,
    metrics: Metrics | None = None,
    checks: Sequence[Check] = (),
    mounts: Sequence[BaseRoute] = (),
) -> ASGIApp:
    """The front server on ``ctx``; ``handover`` (processing in this process) is told about
    each accepted request, before and after its durable store (:class:`Handover`);
    ``wait_for(request_id, seconds)`` gives the status once the request ends (or ``None``
    when it did not end in time), for clients that ask to wait (layer 2 ``"wait"``).

    ``close_on_shutdown``: close ``ctx`` in the ASGI lifespan shutdown (run uvicorn with
    lifespan on). Use it when the server owns the context: uvicorn re-raises SIGTERM/SIGINT
    after its shutdown, so code after ``await server.serve()`` may never run.

    ``metrics``: the process's metrics (processing's too, when it runs here); ``checks``:
    readiness checks of the other parts of the process (``/readyz``); ``mounts``: more routes
    beside the front's own (``serve`` mounts the cabinet)."""
    intake = ctx.intake(handover, wait_for)
    limit = ctx.settings.max_body
    metrics = metrics or Metrics()
    if ctx.gate is not None:
        ctx.gate.on_refusal = metrics.intake_refused

    def public_url(request: Request) -> str:
        """The installation's public address: the setting, else the address asked for."""
        return ctx.settings.public_url or f"{request.url.scheme}://{request.url.netloc}"

    async def request_row(request: Request) -> dict[str, Any] | None:
        """The request named by ``nuid`` and ``qnuid``; None for a wrong, partial or missing
        pair (one answer for all: never a hint that one half exists)."""
        nuid = request.query_params.get("nuid")
        qnuid = request.query_params.get("qnuid")
        if not valid_ids(nuid, qnuid):
            return None
        assert nuid is not None and qnuid is not None
        return await ctx.requests.get_by_ids(nuid, qnuid)

    async def status(request: Request) -> Response:
        row = await request_row(request)
        if row is None:
            return json_response({"status": "error", "error": "not found"}, 404)
        return json_response(status_body(row, public_url(request)))

    async def qr_image(request: Request) -> Response:
        row = await request_row(request)
        if row is None or not row.get("qr"):
            return PlainTextResponse("not found", 404)
        return Response(qr_png(row["qr"]), media_type="image/png", headers={"cache-control": "public, max-age=86400"})

    async def receipt_page(request: Request) -> Response:
        row = await request_row(request)
        if row is None:
            return PlainTextResponse("not found", 404)
        return HTMLResponse(render_receipt_page(row, public_url(request)))

    async def keys(request: Request) -> Response:
        await ctx.refresh_keys()
        return json_response(ctx.keys_json())

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            text = "no such path: the paths are POST /v1/fiscalize, /srv/igd.php, /v1/fiscalize/cluster; " \
                   "GET /v1/status, /getfp, /v1/keys"
        elif exc.status_code == 405:
            text = f"method not allowed: use {(exc.headers or {}).get('Allow', 'GET')}"
        else:
            text = exc.detail
        return Response(
            _encode({"status": "error", "error": text}),
            status_code=exc.status_code,
            headers=exc.headers,
            media_type="application/json",
        )

    async def on_error(request: Request, exc: Exception) -> Response:
        cid = uuid.uuid4().hex[:16]
        log.error("unhandled failure (correlation id %s): %s", cid, type(exc).__name__, exc_info=exc)
        return Response(unexpected_body(cid), status_code=200, media_type="application/json")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if close_on_shutdown:
                await ctx.close()

    app = Starlette(
        lifespan=lifespan,
        routes=[
            Route("/v1/status", status, methods=["GET"]),
            Route("/getfp", status, methods=["GET"]),
            Route("/v1/keys", keys, methods=["GET"]),
            Route(QR_IMAGE_PATH, qr_image, methods=["GET"]),
            Route(RECEIPT_PAGE_PATH, receipt_page, methods=["GET"]),
            *observe_routes(ctx, metrics, checks),
            *mounts,
        ],
        exception_handlers={Exception: on_error, HTTPException: http_error},
    )
    modes: dict[str, Mode] = {"/v1/fiscalize": "kassa", "/srv/igd.php": "kassa", "/v1/fiscalize/cluster": "cluster"}

    async def front(scope: Scope, receive: Receive, send: Send) -> None:
        # The intake's POSTs go straight to the intake (no Request/Response objects, no
        # routing): it is the hot path. Everything else goes through Starlette.
        mode = modes.get(scope.get("path", "")) if scope["type"] == "http" else None
        if mode is None:
            await app(scope, receive, send)
            return
        if scope["method"] != "POST":
            code = FrontCode.ENVELOPE_INVALID if mode == "kassa" else FrontCode.CLUSTER_ENVELOPE_INVALID
            payload = _encode({"status": "error", "code": str(int(code)), "error": "method not allowed: use POST"})
            await _send_json(send, 405, payload, (b"allow", b"POST"))
            return
        started = time.perf_counter()
        await ctx.refresh_keys()
        content_type = ""
        too_long = False
        request_id: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"content-length" and value.isdigit() and int(value) > limit:
                too_long = True
            elif name == b"x-request-id":
                request_id = value
        trace = begin_request(request_id)
        body = None if too_long else await _receive_limited(receive, limit)
        if body is _GONE:
            return  # the client left (or was cut off) before its body ended: nothing to answer
        extra = [(b"x-request-id", trace.request_id.encode())]
        if body is None:
            code = FrontCode.ENVELOPE_INVALID if mode == "kassa" else FrontCode.CLUSTER_ENVELOPE_INVALID
            text = f"The body is over the limit of {limit} bytes."
            http_status, payload = 413, _encode({"status": "error", "code": str(int(code)), "error": text})
        else:
            result = await intake.handle(mode, body, content_type)
            code, http_status, payload = result.code, result.http_status, _encode(result.body())
            if result.retry_after is not None:
                extra.append((b"retry-after", b"%d" % result.retry_after))
        await _send_json(send, http_status, payload, *extra)
        _intake_done(metrics, trace, scope["path"], int(code), started)

    return CatchAll(front)


def _intake_done(metrics: Metrics, trace: Trace, path: str, code: int, started: float) -> None:
    """The intake request's metrics and its log line (never a token or a receipt's content:
    the line holds the request id, path, code, duration, account id and stored request)."""
    seconds = time.perf_counter() - started
    metrics.intake_answered(code, seconds)
    if log.isEnabledFor(logging.INFO):
        fields = {"request_id": trace.request_id,
                  "path": path, "code": code, "duration_ms": round(seconds * 1000, 2), "kassaid": trace.kassaid,
                  "request": trace.stored_id}
        log.info("intake", extra={"fields": fields})


_GONE = b"\x00gone"


async def _receive_limited(receive: Receive, limit: int) -> bytes | None:
    """The request body, None when it is longer than ``limit`` bytes, ``_GONE`` when the
    client disconnected before its end."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return _GONE
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
