"""In-memory fakes of processing's ports (``kassagate.processing.ports``): the request
queue, the account reads and the registers, so that the worker's loop runs in unit tests
with no database and no register process.

The fakes keep the rules the real ones keep: a claim takes due, unleased, pending
requests under a lease and counts an attempt; only the lease holder of a pending request
may write to it; an end writes the outbox row of a kassa with a callback URL. A
:class:`FakeRegister` holds fiscalized documents by ``documentExtID`` (a resend is answered
with the first document, as the protocol says) and can be told to refuse connections, to
lose the answer of a send it took, or to fail its lookups.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from kassagate.cashbox.client import CashboxClient, RegisterUnreachable
from kassagate.core.codes import CashboxCode
from kassagate.core.states import FnState, RequestStatus
from kassagate.processing.registers import RegisterHandle, UnknownRegister
from kassagate.storage.queue import Claimed, End, Ended, Event
from kassagate.storage.repos import Cluster, Kassa, Kkt


def _now_us() -> int:
    return time.time_ns() // 1000


# --------------------------------------------------------------------------- the queue


@dataclass
class StoredRequest:
    """A request as the fake queue holds it (the columns the queue reads and writes)."""

    id: int
    nuid: str
    mode: str
    kassaid: str
    cluster_id: str | None
    receipt: str
    accepted_at: int
    status: int = RequestStatus.PENDING
    attempts: int = 0
    next_attempt_at: int = 0
    lease_owner: str | None = None
    lease_until: int | None = None
    kkt_id: int | None = None
    kkt_ruled_out: bool = False
    error_text: str | None = None
    values: dict[str, Any] = field(default_factory=dict)  # the columns its end set
    events: list[Event] = field(default_factory=list)


class FakeQueue:
    """The request queue in memory (``processing.ports.WorkQueue``)."""

    def __init__(self, accounts: FakeAccounts | None = None) -> None:
        self.requests: dict[int, StoredRequest] = {}
        self.outbox: list[int] = []  # request ids with a callback row
        self._accounts = accounts
        self._changed: asyncio.Event | None = None

    def _touch(self) -> None:
        if self._changed is not None:
            self._changed.set()

    async def until(self, done: Callable[[], bool], *, seconds: float) -> bool:
        """Wait until ``done()`` holds, looking after each write to the queue; False when
        ``seconds`` pass first."""
        self._changed = changed = asyncio.Event()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not done():
            left = deadline - loop.time()
            if left <= 0:
                return False
            changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), left)
        return True

    def add(self, kassaid: str, receipt: str, *, cluster_id: str | None = None, kkt_id: int | None = None,
            nuid: str | None = None) -> int:
        """Store an accepted request, due at once."""
        request_id = len(self.requests) + 1
        self.requests[request_id] = StoredRequest(
            id=request_id, nuid=nuid or f"{request_id:023d}", mode="cluster" if cluster_id else "kassa",
            kassaid=kassaid, cluster_id=cluster_id, receipt=receipt, accepted_at=_now_us(), kkt_id=kkt_id,
        )
        return request_id

    async def claim(self, owner: str, *, limit: int, lease_us: int) -> list[Claimed]:
        now = _now_us()
        due = [
            r for r in self.requests.values()
            if r.status == RequestStatus.PENDING and r.next_attempt_at <= now
            and (r.lease_until is None or r.lease_until < now)
        ]
        taken: list[Claimed] = []
        for r in sorted(due, key=lambda r: (r.next_attempt_at, r.id))[:limit]:
            r.lease_owner, r.lease_until, r.attempts = owner, now + lease_us, r.attempts + 1
            taken.append(Claimed(r.id, r.nuid, r.mode, r.kassaid, r.cluster_id, r.receipt, r.accepted_at, r.attempts,
                                 r.kkt_id, r.kkt_ruled_out))
        self._touch()
        return taken

    def _mine(self, request_id: int, owner: str) -> StoredRequest | None:
        r = self.requests.get(request_id)
        if r is None or r.status != RequestStatus.PENDING or r.lease_owner != owner:
            return None
        return r

    async def record_register(self, request_id: int, owner: str, kkt_id: int, *, event: Event | None = None) -> bool:
        r = self._mine(request_id, owner)
        if r is None:
            return False
        r.kkt_id, r.kkt_ruled_out = kkt_id, False
        if event is not None:
            r.events.append(event)
        self._touch()
        return True

    async def retry_later(self, request_id: int, owner: str, *, delay_us: int, note: str, ruled_out: bool = False,
                          event: Event | None = None) -> None:
        r = self._mine(request_id, owner)
        if r is None:
            return
        r.next_attempt_at, r.lease_owner, r.lease_until = _now_us() + delay_us, None, None
        r.error_text, r.kkt_ruled_out = note, ruled_out
        if event is not None:
            r.events.append(event)
        self._touch()

    async def finish(self, end: End) -> Ended:
        r = self._mine(end.request_id, end.owner)
        if r is None:
            return Ended(False)
        r.values = dict(end.values)
        r.status = end.values["status"]
        r.lease_owner = r.lease_until = None
        r.kkt_id = end.values.get("kkt_id", r.kkt_id)
        r.kassaid = end.values.get("kassaid", r.kassaid)
        queued = False
        if end.callback_kassaid is not None and self._accounts is not None:
            kassa = self._accounts.kassas.get(end.callback_kassaid)
            if kassa is not None and kassa.callback_url:
                self.outbox.append(r.id)
                queued = True
        self._touch()
        return Ended(True, queued)


# --------------------------------------------------------------------------- accounts


class FakeAccounts:
    """Kassas and clusters in memory (``processing.ports.AccountReader``)."""

    def __init__(self) -> None:
        self.kassas: dict[str, Kassa] = {}
        self.clusters: dict[str, Cluster] = {}

    def add_cluster(self, cluster_id: str, *, type: str = "standard") -> None:
        self.clusters[cluster_id] = Cluster(cluster_id, "salt", "hash", type, True)

    def add_kassa(self, kassaid: str, register: FakeRegister | None, *, cluster_id: str | None = None,
                  type: str = "standard", callback_url: str | None = None) -> None:
        kkt = None
        if register is not None:
            kkt = Kkt(register.kkt_id, "remote", f"http://register-{register.kkt_id}", None, None,
                      register.fn_serial, register.kkt_reg_number, register.fn_state, 0)
        self.kassas[kassaid] = Kassa(kassaid, "salt", "hash", type, True, False, None if kkt is None else kkt.id,
                                     cluster_id, callback_url, kkt)

    async def get_kassa(self, kassaid: str) -> Kassa | None:
        return self.kassas.get(kassaid)

    async def get_cluster(self, cluster_id: str) -> Cluster | None:
        return self.clusters.get(cluster_id)

    async def cluster_members(self, cluster_id: str) -> list[Kassa]:
        return sorted((k for k in self.kassas.values() if k.cluster_id == cluster_id), key=lambda k: k.kassaid)


# --------------------------------------------------------------------------- registers


def _connection_refused(where: str) -> RegisterUnreachable:
    exc = RegisterUnreachable(f"{where}: ConnectError")
    exc.__cause__ = httpx.ConnectError("connection refused")
    return exc


def _answer_lost(where: str) -> RegisterUnreachable:
    exc = RegisterUnreachable(f"{where}: ReadTimeout")
    exc.__cause__ = httpx.ReadTimeout("timed out")
    return exc


@dataclass
class FakeRegister:
    """A register speaking the Cashbox protocol's answers, in memory (a ``Transport``).

    ``refuse_connections``: every call fails before reaching it (nothing can have been
    fiscalized). ``lose_answers``: a fiscal document is taken, then the answer is lost.
    ``lookups_fail``: ``/last_document`` cannot be reached. ``refuse_with``: documents
    are refused with that Cashbox code."""

    kkt_id: int
    fn_serial: str = "9999078900001234"
    kkt_reg_number: str = "0000000001012345"
    fn_state: str = FnState.OK
    refuse_connections: bool = False
    lose_answers: bool = False
    lookups_fail: bool = False
    #: ``(code, message)``: every fiscal document is refused so.
    refuse_with: tuple[int, str] | None = None
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)  # by documentExtID
    calls: list[str] = field(default_factory=list)

    async def send(self, endpoint: str, request: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(endpoint)
        where = f"register {self.kkt_id}/{endpoint}"
        if self.refuse_connections:
            raise _connection_refused(where)
        if endpoint == "get_info":
            return {"code": CashboxCode.OK, "message": "", "fnState": self.fn_state, "registered": True,
                    "fnNumber": self.fn_serial, "kktRegNumber": self.kkt_reg_number, "timezone": "Europe/Moscow"}
        if endpoint == "last_document":
            if self.lookups_fail:
                raise _answer_lost(where)
            found = self.documents.get(str(request.get("documentExtID")))
            if found is None:
                return {"code": CashboxCode.NOT_FOUND, "message": "no such document"}
            return found
        if self.refuse_with is not None:
            return {"code": self.refuse_with[0], "message": self.refuse_with[1]}
        answer = self.documents.get(str(request["documentExtID"]))
        if answer is None:  # a new document: fiscalized
            answer = self._fiscalize(request)
        if self.lose_answers:
            raise _answer_lost(where)
        return answer

    def _fiscalize(self, request: dict[str, Any]) -> dict[str, Any]:
        fd = len(self.documents) + 1
        answer = {
            "code": CashboxCode.OK, "message": "", "documentID": fd, "fiscalID": f"{3_000_000_000 + fd}",
            "fiscalNum": str(fd), "docTime": request["docTime"], "printTime": request["docTime"], "docStatus": 1,
            "documentExtID": request["documentExtID"], "docNumber": request["docNumber"],
            "extraParams": {
                "fnNumber": self.fn_serial, "fdNumber": fd, "fiscalSign": f"{3_000_000_000 + fd}",
                "shiftNumber": 1, "receiptNumber": fd, "kktRegNumber": self.kkt_reg_number, "qr": f"t=1&fn={fd}",
            },
        }
        self.documents[str(request["documentExtID"])] = answer
        return answer

    def handle(self) -> RegisterHandle:
        return RegisterHandle(
            kkt_id=self.kkt_id, kind="remote", client=CashboxClient(self), fn_serial=self.fn_serial,
            kkt_reg_number=self.kkt_reg_number, updated_at=0, tz=zoneinfo.ZoneInfo("Europe/Moscow"),
            lock=asyncio.Lock(),
        )


class FakeRegisters:
    """The registers by id (``processing.ports.Registers``)."""

    def __init__(self, *registers: FakeRegister) -> None:
        self.registers = {r.kkt_id: r for r in registers}
        self._handles = {r.kkt_id: r.handle() for r in registers}

    async def get(self, kkt_id: int) -> RegisterHandle:
        handle = self._handles.get(kkt_id)
        if handle is None:
            raise UnknownRegister(f"no register with id {kkt_id}")
        return handle

    async def ask(self, handle: RegisterHandle) -> dict[str, Any] | None:
        """``/get_info`` (the worker's ``ask``): nothing to record in memory."""
        try:
            return await handle.client.call("get_info", {})
        except RegisterUnreachable:
            return None
