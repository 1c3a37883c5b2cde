"""The worker: claims accepted requests and takes each to a register.

What to do after each step (a send, a question to a register) is decided in
``dispatch.py``, which states the exactly-once rules; the calls to registers and what their
answers mean are ``register_calls.py``'s; the worker runs the loop and writes each
decision to the queue. Its part of the argument:

1. A request is claimed under a lease; only the lease holder may end it, and only while it
   is pending (``storage/queue.py`` checks both in the UPDATE that ends it).
2. Before a document is sent, the register it goes to is written into the request
   (``kkt_id``, not ruled out). An attempt that may have reached it leaves it so; a later
   attempt (a retry, or another worker after a crash or an expired lease) asks that
   register first and goes nowhere else until it has answered.
3. The document carries ``documentExtID`` = ``docNumber`` = the request's ``nuid`` and
   ``docTime`` = its acceptance time: the register recognises a resend and answers with the
   first document, and finds it for ``/last_document``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec

from kassagate.config import Settings, load_settings
from kassagate.core.codes import FrontCode
from kassagate.core.states import RequestStatus
from kassagate.logs import Trace, use_trace
from kassagate.metrics import Outcome
from kassagate.processing import dispatch
from kassagate.processing.mapping import CashboxDocument, receipt_to_document
from kassagate.processing.monitor import ask_register
from kassagate.processing.ports import AccountReader, AskRegister, Registers, WorkQueue
from kassagate.processing.register_calls import RegisterCalls
from kassagate.processing.routing import Candidate, candidate, pick
from kassagate.storage import queue
from kassagate.storage.db import Database
from kassagate.storage.queue import RequestQueue
from kassagate.storage.repos import Accounts

log = logging.getLogger("kassagate.processing")



@dataclass(frozen=True)
class ProcessingConfig:
    concurrency: int = 32
    lease_seconds: float = 60.0
    poll_seconds: float = 0.5
    #: After a wake-up, how long to let more accepted requests gather before claiming.
    coalesce_seconds: float = 0.002
    retry_base_seconds: float = 0.5
    retry_max_seconds: float = 60.0
    #: Attempts (claims) after which an unreachable register or a full/broken FN ends the
    #: request with 70 / 330 / 340 (kassa mode) or 240 (cluster mode).
    retry_budget: int = 10
    health_seconds: float = 2.0
    #: Device-mode registers: close and reopen a shift this long before its 24 hours.
    shift_rotate_before_seconds: float = 600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ProcessingConfig:
        """The processing fields of the service's settings (``docs/processing.md``)."""
        return cls(
            concurrency=settings.worker_concurrency,
            retry_budget=settings.retry_budget,
            retry_base_seconds=settings.retry_base_seconds,
            retry_max_seconds=settings.retry_max_seconds,
            lease_seconds=settings.lease_seconds,
        )

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ProcessingConfig:
        """:meth:`from_settings` of the settings read from ``env`` (default: the process's)."""
        return cls.from_settings(load_settings(env))

    def backoff_us(self, attempts: int) -> int:
        delay = min(self.retry_base_seconds * (2 ** max(attempts - 1, 0)), self.retry_max_seconds)
        return int(delay * 1_000_000)


#: Called with (request_id, status) when a request ends; errors are logged, never raised.
Listener = Callable[[int, int], Awaitable[None]]


@dataclass
class Worker:
    """Claims requests from ``queue`` and takes each to a register of ``registers``,
    routed by ``accounts``; ``ask`` reads (and records) a register's ``/get_info`` when it
    refused a document, to tell a dead fiscal drive from a refused receipt.
    :meth:`on` builds one over a database."""

    queue: WorkQueue
    accounts: AccountReader
    registers: Registers
    ask: AskRegister
    config: ProcessingConfig = field(default_factory=ProcessingConfig)
    owner: str = field(default_factory=lambda: f"{os.getpid()}-{secrets.token_hex(4)}")
    listeners: list[Listener] = field(default_factory=list)
    #: Called after a request's end committed an outbox row (wakes the callback sender).
    on_callback_queued: Callable[[], None] | None = None
    #: kkt id -> seconds left in the register's shift, as the monitor last saw it.
    shift_left: dict[int, float] = field(default_factory=dict)
    #: Called with each request's end (metrics); errors are logged, never raised.
    outcomes: list[Callable[[Outcome], None]] = field(default_factory=list)
    #: The intake's trace of a request accepted in this process (its lines carry its id).
    trace_of: Callable[[int], Trace | None] | None = None

    @classmethod
    def on(cls, db: Database, registers: Registers, config: ProcessingConfig | None = None, **kw: Any) -> Worker:
        """A worker over the service database (ends written with group commit)."""
        return cls(RequestQueue(db), Accounts(db), registers, functools.partial(ask_register, db),
                   config or ProcessingConfig(), **kw)

    def __post_init__(self) -> None:
        self._wake = asyncio.Event()
        self._calls = RegisterCalls(self.registers, self.ask)
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = False  # run() is taking work: the intake may hand requests over

    def wake(self) -> None:
        """Work is waiting: claim now instead of at the next poll."""
        self._wake.set()

    def lease_at_store(self) -> tuple[str, int] | None:
        """``(owner, lease_until_us)`` for a request about to be stored already claimed by
        this worker (the intake's handover), or None when the worker is not running or has
        no room: then the request waits in the queue. The lease is the one ``claim`` takes,
        so a crash leaves the request to be claimed again when it expires, as any claim."""
        if not self._running or len(self._tasks) >= self.config.concurrency:
            return None
        return self.owner, queue.now_us() + self._lease_us

    def take(self, claimed: queue.Claimed) -> None:
        """Process a request stored under this worker's lease (``lease_at_store``). When the
        worker stopped meanwhile, its lease expires and the request is claimed again."""
        if not self._running:
            return
        task = asyncio.create_task(self._process_safely(claimed))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the loop -----------------------------------------------------------------------

    @property
    def _lease_us(self) -> int:
        return int(self.config.lease_seconds * 1_000_000)

    async def run(self, stop: asyncio.Event) -> None:
        self._running = True
        try:
            await self._run(stop)
        finally:
            self._running = False
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self.config.lease_seconds)

    async def _run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            free = self.config.concurrency - len(self._tasks)
            batch: list[queue.Claimed] = []
            if free > 0:
                try:
                    batch = await self.queue.claim(self.owner, limit=free, lease_us=self._lease_us)
                except Exception:
                    log.exception("claiming work failed; retrying")
                    await asyncio.sleep(self.config.poll_seconds)
                    continue
            for claimed in batch:
                self.take(claimed)
            if batch and len(batch) == free:
                continue  # more may be due: claim again as soon as a slot frees
            self._wake.clear()
            waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._wake.wait())]
            stopper = asyncio.ensure_future(stop.wait())
            waiters.append(stopper)
            if free <= 0 and self._tasks:
                waiters.append(asyncio.ensure_future(asyncio.wait(set(self._tasks), return_when="FIRST_COMPLETED")))
            _done, pending = await asyncio.wait(
                waiters, timeout=self.config.poll_seconds, return_when="FIRST_COMPLETED"
            )
            for p in pending:
                p.cancel()
            if self._wake.is_set() and self.config.coalesce_seconds > 0:
                # Woken by an acceptance: let the next few arrive too, so that one claim
                # (one transaction, one fsync) takes them together.
                await asyncio.sleep(self.config.coalesce_seconds)

    async def _process_safely(self, claimed: queue.Claimed) -> None:
        if self.trace_of is not None:
            use_trace(self.trace_of(claimed.id))  # this task's context only
        try:
            await self.process(claimed)
        except Exception as exc:
            # Another attempt follows: nothing is lost. The request stays in doubt at the
            # register it names (the failure may have come after the document was sent).
            log.exception("request %s: unexpected failure (%s); it will be retried", claimed.id, type(exc).__name__)
            try:
                await self.queue.retry_later(
                    claimed.id,
                    self.owner,
                    delay_us=self.config.backoff_us(claimed.attempts),
                    note=f"internal error ({type(exc).__name__}); retrying",
                )
            except Exception:
                log.exception("request %s: could not schedule a retry; the lease will expire", claimed.id)

    # -- one request ----------------------------------------------------------------------

    async def process(self, claimed: queue.Claimed) -> None:
        receipt = msgspec.json.decode(claimed.receipt)
        doc = receipt_to_document(receipt, nuid=claimed.nuid, accepted_at_us=claimed.accepted_at)
        if claimed.kkt_id is not None and dispatch.in_doubt(
            attempts=claimed.attempts, kkt_id=claimed.kkt_id, kkt_ruled_out=claimed.kkt_ruled_out
        ):
            decision = dispatch.at_claim(await self._calls.lookup(claimed.kkt_id, doc), kkt_id=claimed.kkt_id)
            if not isinstance(decision, dispatch.Send):
                await self._apply(claimed, decision, kkt_id=claimed.kkt_id)
                return
            # The register holds no document of the request: it is ruled out there.
            claimed = replace(claimed, kkt_ruled_out=True)
        if claimed.mode == "cluster":
            await self._process_cluster(claimed, doc)
        else:
            await self._process_kassa(claimed, doc)

    async def _process_kassa(self, c: queue.Claimed, doc: CashboxDocument) -> None:
        kkt_id = c.kkt_id
        if kkt_id is None:
            kassa = await self.accounts.get_kassa(c.kassaid)
            kkt_id = None if kassa is None else kassa.kkt_id
        if kkt_id is None:
            decision = dispatch.budget(FrontCode.STORE_FAILED, "the kassa is bound to no register",
                                       attempts=c.attempts, retry_budget=self.config.retry_budget)
            await self._apply(c, decision)
            return
        # Persist the register before sending unless the row already names it, not ruled out
        # (the first attempt of a kassa's request, stored with its register by the intake).
        if (c.kkt_id is None or c.kkt_ruled_out) and not await self.queue.record_register(c.id, self.owner, kkt_id):
            return  # the request ended or moved to another worker meanwhile
        decision = await self._send_and_decide(c, doc, kkt_id)
        await self._apply(c, decision, kkt_id=kkt_id)

    async def _process_cluster(self, c: queue.Claimed, doc: CashboxDocument) -> None:
        cluster = None if c.cluster_id is None else await self.accounts.get_cluster(c.cluster_id)
        if cluster is None:
            await self._apply(c, dispatch.Fail(FrontCode.CLUSTER_ALL_FAILED, "the cluster no longer exists"))
            return
        tried: set[str] = set()
        transient = False
        previous: tuple[int, str] | None = None  # the register ruled out in this attempt, and why
        while True:
            candidates = await self._candidates(c.cluster_id or "")
            kassa_of = {cand.kkt_id: cand.kassaid for cand in candidates if cand.kkt_id is not None}
            route = pick(candidates, cluster_type=cluster.type, tried=frozenset(tried))
            if route.code is not None:
                decision = dispatch.routing_ended(
                    route.code, route.reason, transient=transient, tried=bool(tried),
                    attempts=c.attempts, retry_budget=self.config.retry_budget,
                )
                await self._apply(c, decision)
                return
            assert route.kkt_id is not None and route.kassaid is not None
            tried.add(route.kassaid)
            event = None
            if previous is not None:
                event = queue.Event("failover", f"from register {previous[0]}: {previous[1]}", route.kkt_id)
            if not await self.queue.record_register(c.id, self.owner, route.kkt_id, event=event):
                return  # the request ended or moved to another worker meanwhile
            decision = await self._send_and_decide(c, doc, route.kkt_id)
            if not isinstance(decision, dispatch.NextRegister):
                await self._apply(c, decision, kkt_id=route.kkt_id, kassaid=kassa_of.get(route.kkt_id))
                return
            transient = transient or decision.transient
            previous = (route.kkt_id, decision.reason)
            log.info("request %s: register %s ruled out (%s); trying another", c.id, route.kkt_id, decision.reason)

    async def _send_and_decide(self, c: queue.Claimed, doc: CashboxDocument, kkt_id: int) -> dispatch.Decision:
        """Send the document to ``kkt_id``; when the outcome is unknown, ask that register
        at once whether it holds the document."""
        mode: dispatch.Mode = "cluster" if c.mode == "cluster" else "kassa"
        budget = self.config.retry_budget
        decision = dispatch.after_send(await self._calls.send(kkt_id, doc), mode=mode, kkt_id=kkt_id,
                                       attempts=c.attempts, retry_budget=budget)
        if isinstance(decision, dispatch.Confirm):
            log.warning("request %s: outcome at register %s unknown (%s); asking it", c.id, kkt_id, decision.reason)
            decision = dispatch.after_confirm(await self._calls.lookup(kkt_id, doc), mode=mode, kkt_id=kkt_id,
                                              why=decision.reason, attempts=c.attempts, retry_budget=budget)
        return decision

    async def _candidates(self, cluster_id: str) -> list[Candidate]:
        members = await self.accounts.cluster_members(cluster_id)
        inflight, shift_left = self._calls.inflight, self.shift_left
        return [
            candidate(k, load=inflight.get(k.kkt_id or -1, 0), shift_seconds_left=shift_left.get(k.kkt_id or -1))
            for k in members
        ]

    # -- talking to one register ---------------------------------------------------------------

    # -- carrying out a decision -----------------------------------------------------------------

    async def _apply(
        self, c: queue.Claimed, decision: dispatch.Decision, *, kkt_id: int | None = None, kassaid: str | None = None
    ) -> None:
        if isinstance(decision, dispatch.Finish):
            assert isinstance(decision.data, queue.FiscalData)
            await self._finish(c, fiscal=decision.data, kkt_id=kkt_id, kassaid=kassaid)
        elif isinstance(decision, dispatch.Fail):
            await self._finish(c, error_code=int(decision.code), error_text=decision.reason)
        elif isinstance(decision, dispatch.Wait):
            log.warning("request %s: %s", c.id, decision.reason)
            await self._later(c, decision.reason, ruled_out=False, event=queue.Event("waiting", decision.reason,
                                                                                     decision.kkt_id))
        elif isinstance(decision, dispatch.Retry):
            await self._later(c, decision.reason, ruled_out=True, event=queue.Event("retry", decision.reason, kkt_id))
        else:  # Confirm, Send and NextRegister are handled where they arise
            raise AssertionError(f"unexpected decision {decision!r}")

    async def _later(self, c: queue.Claimed, note: str, *, ruled_out: bool, event: queue.Event) -> None:
        keep = event if c.attempts <= queue.EVENTS_PER_REQUEST else None
        await self.queue.retry_later(c.id, self.owner, delay_us=self.config.backoff_us(c.attempts), note=note,
                                ruled_out=ruled_out, event=keep)

    async def _finish(
        self,
        c: queue.Claimed,
        *,
        fiscal: queue.FiscalData | None = None,
        error_code: int | None = None,
        error_text: str | None = None,
        kkt_id: int | None = None,
        kassaid: str | None = None,
    ) -> None:
        status = RequestStatus.FISCALIZED if fiscal is not None else RequestStatus.FAILED
        values = queue.end_values(
            fiscal=fiscal, error_code=error_code, error_text=error_text, kkt_id=kkt_id, kassaid=kassaid
        )
        # The outbox row (kassas with a callback URL) is written in the same transaction.
        ended = await self.queue.finish(queue.End(c.id, self.owner, values, kassaid or c.kassaid))
        if not ended.ended:
            return
        if ended.callback and self.on_callback_queued is not None:
            self.on_callback_queued()
        self._outcome(c, fiscal is not None, error_code, kkt_id, kassaid or c.kassaid)
        for listener in self.listeners:
            try:
                await listener(c.id, status)
            except Exception:
                log.exception("a listener of request %s failed", c.id)


    def _outcome(self, c: queue.Claimed, fiscalized: bool, error_code: int | None, kkt_id: int | None,
                 kassaid: str) -> None:
        """The request's outcome line and hooks. A failure's text stays in the request's
        status (it may quote the receipt): the line has its code only."""
        outcome = Outcome(c.id, fiscalized, error_code, c.accepted_at, queue.now_us(), kassaid, kkt_id)
        took = (outcome.ended_at_us - outcome.accepted_at_us) / 1e6
        fields = {"request": c.id, "kassaid": kassaid, "register": kkt_id, "code": error_code,
                  "latency_s": round(took, 3)}
        if fiscalized:
            log.info("request %s fiscalized", c.id, extra={"fields": fields})
        else:
            log.warning("request %s failed with code %s", c.id, error_code, extra={"fields": fields})
        for hook in self.outcomes:
            try:
                hook(outcome)
            except Exception:
                log.exception("an outcome hook of request %s failed", c.id)
