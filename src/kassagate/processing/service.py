"""Processing as one unit: the worker, the register monitor and the callback sender over a
shared register directory, plus waiting for a request to end (the intake's synchronous
option)."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

from kassagate.core.states import RequestStatus
from kassagate.logs import Trace, current_trace
from kassagate.metrics import Metrics
from kassagate.processing.callbacks import CallbackSender
from kassagate.processing.monitor import RegisterMonitor
from kassagate.processing.registers import RegisterDirectory
from kassagate.processing.worker import ProcessingConfig, Worker
from kassagate.storage.db import Database
from kassagate.storage.queue import Claimed
from kassagate.storage.request_store import NewRequest, Requests

log = logging.getLogger("kassagate.processing")

#: How often a waiter looks at the database, for requests ended by another process.
WAIT_POLL_SECONDS = 0.1


async def render_status(db: Database, request_id: int, public_url: str = "") -> dict[str, Any] | None:
    """The request's status JSON (the object of ``GET /v1/status``); ``public_url`` is the
    installation's public address (the base of the status's URLs)."""
    from kassagate.front.status import status_body

    row = await Requests(db).get(request_id)
    return None if row is None else status_body(row, public_url)


async def wait_ended(db: Database, request_id: int, seconds: float, *, woken: asyncio.Event | None = None) -> bool:
    """Whether the request ends (is no longer pending) within ``seconds``. ``woken`` is set
    by this process's worker when it ends the request: then the database is not read at
    all. Requests ended by other processes are seen by looking at the database every
    ``WAIT_POLL_SECONDS``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        left = deadline - loop.time()
        if woken is not None:
            try:
                await asyncio.wait_for(woken.wait(), timeout=max(0.0, min(left, WAIT_POLL_SECONDS)))
                return True
            except TimeoutError:
                pass
        status = await Requests(db).status(request_id)
        if status != RequestStatus.PENDING:
            return True
        left = deadline - loop.time()
        if left <= 0:
            return False
        if woken is None:
            await asyncio.sleep(min(left, WAIT_POLL_SECONDS))


#: How many recently ended request ids a :class:`Processing` remembers, so that a waiter
#: that arrives just after its request ended does not wait for the next database poll.
RECENTLY_ENDED = 4096


class Processing:
    def __init__(
        self,
        db: Database,
        data_dir: Path,
        config: ProcessingConfig | None = None,
        metrics: Metrics | None = None,
        *,
        public_url: str = "",
    ) -> None:
        self.db = db
        self.public_url = public_url
        self.registers = RegisterDirectory(db, data_dir)
        self.sender = CallbackSender(db, render=functools.partial(render_status, db, public_url=public_url))
        self.worker = Worker.on(
            db, self.registers, config or ProcessingConfig.from_env(), on_callback_queued=self.sender.wake
        )
        self.monitor = RegisterMonitor(db, self.registers)
        self.worker.shift_left = self.monitor.shift_left
        self.worker.listeners.append(self._ended)
        self._waiters: dict[int, list[asyncio.Event]] = {}
        self._recently_ended: OrderedDict[int, None] = OrderedDict()
        self._tasks: list[asyncio.Task[None]] = []
        # The intake's traces of requests accepted here, until a worker takes them.
        self._traces: OrderedDict[int, Trace] = OrderedDict()
        self.worker.trace_of = self._trace_of
        if metrics is not None:
            self.worker.outcomes.append(metrics.request_ended)
            self.monitor.observers.append(metrics.register_seen)
            self.sender.on_outcome = metrics.callback_ended

    # The intake's Handover (kassagate.front.intake): requests claimed as they are stored.

    def lease(self) -> tuple[str, int] | None:
        """Store the next accepted request already claimed by this process's worker, while
        it has room; None: the request goes to the queue."""
        return self.worker.lease_at_store()

    def accepted(self, request_id: int, request: NewRequest) -> None:
        """The intake stored a request: process it now if it was stored claimed by our
        worker, else wake the worker to claim it."""
        if request.lease_owner == self.worker.owner:
            self.worker.take(Claimed.stored(request_id, request))  # its task runs in the intake's context
        else:
            trace = current_trace()
            if trace is not None:
                self._traces[request_id] = trace
                if len(self._traces) > RECENTLY_ENDED:
                    self._traces.popitem(last=False)
            self.worker.wake()

    def _trace_of(self, request_id: int) -> Trace | None:
        return self._traces.pop(request_id, None) or current_trace()

    async def _ended(self, request_id: int, status: int) -> None:
        self._recently_ended[request_id] = None
        if len(self._recently_ended) > RECENTLY_ENDED:
            self._recently_ended.popitem(last=False)
        for event in self._waiters.pop(request_id, []):
            event.set()

    async def wait_finished(self, request_id: int, seconds: float) -> bool:
        """Wait up to ``seconds`` for the request to end (fiscalized or failed), here or in
        another process."""
        if request_id in self._recently_ended:
            return True
        event = asyncio.Event()
        self._waiters.setdefault(request_id, []).append(event)
        try:
            return await wait_ended(self.db, request_id, seconds, woken=event)
        finally:
            waiters = self._waiters.get(request_id)
            if waiters and event in waiters:
                waiters.remove(event)
                if not waiters:
                    del self._waiters[request_id]

    async def status_when_finished(self, request_id: int, seconds: float) -> dict[str, Any] | None:
        """The status JSON once the request ends within ``seconds``, else ``None``."""
        if not await self.wait_finished(request_id, seconds):
            return None
        return await render_status(self.db, request_id, self.public_url)

    def start(self, stop: asyncio.Event) -> None:
        self._tasks = [
            asyncio.create_task(self.worker.run(stop), name="kassagate-worker"),
            asyncio.create_task(self.monitor.run(stop), name="kassagate-monitor"),
            asyncio.create_task(self.sender.run(stop), name="kassagate-callbacks"),
        ]

    def not_running(self) -> str | None:
        """Why processing is not running here (``/readyz``), or None when it is."""
        if not self._tasks:
            return "processing: not started"
        stopped = [t.get_name().removeprefix("kassagate-") for t in self._tasks if t.done()]
        if stopped:
            return f"processing: stopped ({', '.join(stopped)})"
        return None

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.registers.close()
