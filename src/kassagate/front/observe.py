"""The front server's routes for operators: ``GET /healthz``, ``/readyz``, ``/metrics`` and
``/openapi.json`` (docs/operations.md "Observe").

- ``/healthz``: 200 while the process serves HTTP.
- ``/readyz``: 200 when the database answers (within ``READY_DB_TIMEOUT`` s), the keys are
  loaded with live crypto workers, and processing runs where this process runs it; else
  503 with the reasons.
- ``/metrics``: the Prometheus text format; the database's gauges are read per scrape.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import logging
from collections.abc import Callable, Sequence
from functools import cache

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kassagate.front.context import FrontContext
from kassagate.metrics import CONTENT_TYPE, Metrics
from kassagate.storage.metrics import ping

log = logging.getLogger("kassagate.front.observe")
_encode = msgspec.json.Encoder().encode

READY_DB_TIMEOUT = 2.0

#: A readiness check of a part of this process: None when it is ready, else why not.
Check = Callable[[], str | None]


def _json(body: object, status: int = 200) -> Response:
    return Response(_encode(body), status_code=status, media_type="application/json")


@cache
def openapi_document() -> bytes:
    return importlib.resources.files("kassagate.front").joinpath("openapi.json").read_bytes()


async def not_ready(ctx: FrontContext, checks: Sequence[Check]) -> list[str]:
    """Why this process is not ready (empty: it is)."""
    reasons: list[str] = []
    try:
        await asyncio.wait_for(ping(ctx.db), READY_DB_TIMEOUT)
    except TimeoutError:
        reasons.append(f"database: no answer within {READY_DB_TIMEOUT:g} s")
    except Exception as exc:
        reasons.append(f"database: unreachable ({type(exc).__name__})")
    if not ctx.keyring.current.generation:
        reasons.append("keys: not loaded")
    elif not ctx.crypto.pids:
        reasons.append("keys: no crypto worker is running")
    for check in checks:
        why = check()
        if why:
            reasons.append(why)
    return reasons


def observe_routes(ctx: FrontContext, metrics: Metrics, checks: Sequence[Check] = ()) -> list[Route]:
    async def healthz(request: Request) -> Response:
        return _json({"status": "ok"})

    async def readyz(request: Request) -> Response:
        reasons = await not_ready(ctx, checks)
        if reasons:
            return _json({"status": "error", "error": "; ".join(reasons), "reasons": reasons}, 503)
        return _json({"status": "ok"})

    async def scrape(request: Request) -> Response:
        try:
            q = await metrics.refresh(ctx.db)
            if ctx.gate is not None and ctx.gate.queue is not None:
                ctx.gate.queue.seen(q)
        except Exception as exc:
            # The process's own counters are still worth a scrape; the gauges keep their values.
            log.warning("metrics: reading the database failed (%s)", type(exc).__name__)
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    async def openapi(request: Request) -> Response:
        return Response(openapi_document(), media_type="application/json")

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", scrape, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
