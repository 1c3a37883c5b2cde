"""The composition root: ``kassagate serve`` (front server, the cabinet under
``/cabinet/``, processing and virtual registers in one process) and ``kassagate worker``
(processing alone)."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

import uvicorn
from prometheus_client import start_http_server
from starlette.routing import Mount

from kassagate.cabinet.app import PREFIX as CABINET_PREFIX
from kassagate.cabinet.app import create_cabinet_app
from kassagate.config import Settings
from kassagate.front.app import create_front_app
from kassagate.front.context import FrontContext
from kassagate.http_limits import limited_protocol
from kassagate.listen import Server, listen
from kassagate.logs import configure_logging
from kassagate.metrics import Metrics
from kassagate.processing.service import Processing, render_status, wait_ended
from kassagate.processing.worker import ProcessingConfig
from kassagate.storage.db import open_database

log = logging.getLogger("kassagate")


def _install_stop(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(RuntimeError, ValueError):  # not the main thread, or no such signal
            loop.add_signal_handler(sig, stop.set)


async def run_serve(
    settings: Settings, *, demo: bool = False, workers: bool = True, sock: socket.socket | None = None
) -> None:
    """Serve on ``sock`` (listening; closed at the end) until SIGINT or SIGTERM. Without one,
    listen on the settings' address first: :class:`kassagate.listen.ListenError` at once
    when it is in use, before keys, database and workers are set up."""
    configure_logging(settings.log_level, settings.log_format)
    with sock if sock is not None else listen(settings.host, settings.port) as sock:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        ctx = await FrontContext.open(settings)
        metrics = Metrics()
        processing = (
            Processing(ctx.db, settings.data_dir, ProcessingConfig.from_settings(settings), metrics=metrics,
                       public_url=settings.effective_public_url)
            if workers
            else None
        )
        stop = asyncio.Event()
        try:
            if demo:
                from kassagate.demo import ensure_demo

                await ensure_demo(ctx, settings)
            app = create_front_app(
                ctx,
                handover=processing,
                wait_for=processing.status_when_finished if processing else _poll_status(ctx),
                metrics=metrics,
                checks=[processing.not_running] if processing is not None else [],
                mounts=[Mount(CABINET_PREFIX, create_cabinet_app(ctx.db, settings, faults=demo))],
            )
            if processing is not None:
                processing.start(stop)
            config = uvicorn.Config(
                app,
                host=settings.host,
                port=settings.port,
                http=limited_protocol(settings.http),
                ws="none",  # no WebSocket route: an upgrade request is an ordinary one
                loop="none",
                lifespan="off",
                log_config=None,
                access_log=False,
                # Forwarded headers only from the configured proxies (a status answer's URLs
                # take their scheme from X-Forwarded-Proto there); none are parsed otherwise.
                proxy_headers=bool(settings.trusted_proxies),
                forwarded_allow_ips=settings.trusted_proxies or None,
                timeout_graceful_shutdown=5,
            )
            server = Server(config, on_started=lambda: log.info(
                "kassagate serving on http://%s:%d (data dir %s, database %s)", settings.host, settings.port,
                settings.data_dir.resolve(), settings.database_label))
            # uvicorn re-raises the SIGTERM/SIGINT it caught once serve() returns, with the
            # handlers it found installed: without ours the default action would end the process
            # there, before the cleanup below (crypto pool processes left running).
            _install_stop(stop)
            await server.serve(sockets=[sock])
        finally:
            stop.set()
            if processing is not None:
                await processing.close()
            await ctx.close()
    log.info("kassagate stopped")


def _poll_status(ctx: FrontContext) -> Callable[[int, float], Awaitable[dict[str, Any] | None]]:
    """A front server without workers waits by looking at the database (the workers of
    other processes end the requests)."""

    async def wait_for(request_id: int, seconds: float) -> dict[str, Any] | None:
        if not await wait_ended(ctx.db, request_id, seconds):
            return None
        return await render_status(ctx.db, request_id, ctx.settings.effective_public_url)

    return wait_for


async def run_worker(settings: Settings, *, metrics_port: int | None = None) -> None:
    """``metrics_port``: serve this process's metrics (processing's counters and the
    registers' gauges; the queue's gauges are the front servers')."""
    configure_logging(settings.log_level, settings.log_format)
    db = await open_database(settings.effective_database_url)
    metrics = Metrics()
    processing = Processing(db, settings.data_dir, ProcessingConfig.from_settings(settings), metrics=metrics,
                            public_url=settings.effective_public_url)
    stop = asyncio.Event()
    _install_stop(stop)
    exporter = None
    if metrics_port is not None:
        exporter, _thread = start_http_server(metrics_port, addr=settings.host, registry=metrics.registry)
    processing.start(stop)
    log.info("kassagate worker %s running (data dir %s, database %s)", processing.worker.owner,
             settings.data_dir.resolve(), settings.database_label)
    try:
        await stop.wait()
        log.info("kassagate worker %s stopping: finishing the requests in hand", processing.worker.owner)
    finally:
        if exporter is not None:
            exporter.shutdown()
        await processing.close()
        await db.close()
    log.info("kassagate worker %s stopped", processing.worker.owner)
