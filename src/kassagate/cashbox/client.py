"""The Cashbox client: one interface whether the register is in-process or remote.

``CashboxClient(transport)`` signs (HTTP), sends and parses answers into typed results.
``RegisterUnreachable`` means the outcome is unknown (connection error, timeout, an
answer that is not the protocol's JSON): the caller finds out with ``last_document``.
A protocol error code is never an exception: it is in the answer's ``code``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import msgspec

from kassagate.core.codes import CashboxCode

from .virtual import VirtualRegister
from .wire import encode_request

#: Pooled connections to registers are dropped after 2 s idle, before the register's own
#: keep-alive timeout (uvicorn's is 5 s) closes them: a document sent on a connection the
#: register is closing at that moment is lost in transit (and then retried as a resend).
LIMITS = httpx.Limits(keepalive_expiry=2.0)


class RegisterUnreachable(Exception):
    """The register could not be reached, or did not answer in time: the outcome is unknown."""


class Transport(Protocol):
    async def send(self, endpoint: str, request: dict[str, Any]) -> dict[str, Any]: ...


class InProcessTransport:
    """Calls a ``VirtualRegister`` of this process directly (no signature, no HTTP)."""

    def __init__(self, register: VirtualRegister) -> None:
        self.register = register

    async def send(self, endpoint: str, request: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self.register.handle(endpoint, request)
        except Exception as e:  # the register closed under us: treat as unreachable
            raise RegisterUnreachable(f"the in-process register failed: {type(e).__name__}") from e


class HttpTransport:
    """``POST <base_url>/<endpoint>`` with the signed body."""

    def __init__(self, base_url: str, merchant_id: str, *, timeout: float = 10.0,
                 client: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._merchant_id = merchant_id
        self._timeout = timeout
        self._client = client
        self._own = client is None

    def __repr__(self) -> str:  # never show the merchant ID
        return f"HttpTransport({self.base_url!r})"

    async def send(self, endpoint: str, request: dict[str, Any]) -> dict[str, Any]:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout, limits=LIMITS)
        body = encode_request(request, self._merchant_id)
        try:
            r = await self._client.post(f"{self.base_url}/{endpoint}", content=body, timeout=self._timeout,
                                        headers={"content-type": "application/x-www-form-urlencoded"})
        except httpx.HTTPError as e:
            raise RegisterUnreachable(f"{self.base_url}/{endpoint}: {type(e).__name__}") from e
        try:
            answer = msgspec.json.decode(r.content)
        except msgspec.DecodeError as e:
            raise RegisterUnreachable(f"{self.base_url}/{endpoint}: HTTP {r.status_code}, not a JSON answer") from e
        if not isinstance(answer, dict) or not isinstance(answer.get("code"), int):
            raise RegisterUnreachable(f"{self.base_url}/{endpoint}: HTTP {r.status_code}, not a protocol answer")
        return answer

    async def aclose(self) -> None:
        if self._own and self._client is not None:
            await self._client.aclose()
            self._client = None


def _s(v: Any) -> str:
    return "" if v is None else str(v)


def _code(raw: dict[str, Any]) -> int:
    """The answer's code; an answer without a readable one counts as the register's
    internal error."""
    return _i(raw.get("code"), CashboxCode.INTERNAL)


def _i(v: Any, default: int = 0) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class FiscalExtra:
    fn_number: str
    fd_number: int
    fiscal_sign: str
    shift_number: int | None
    receipt_number: int | None
    kkt_reg_number: str
    qr: str

    @classmethod
    def parse(cls, extra: Any) -> FiscalExtra | None:
        """None when a (real) register leaves ``extraParams`` empty or incomplete."""
        if not isinstance(extra, dict) or not extra.get("fnNumber") or extra.get("fdNumber") in (None, ""):
            return None
        rn, sn = extra.get("receiptNumber"), extra.get("shiftNumber")
        return cls(fn_number=_s(extra["fnNumber"]), fd_number=_i(extra["fdNumber"]),
                   fiscal_sign=_s(extra.get("fiscalSign")), shift_number=None if sn in (None, "") else _i(sn),
                   receipt_number=None if rn in (None, "") else _i(rn), kkt_reg_number=_s(extra.get("kktRegNumber")),
                   qr=_s(extra.get("qr")))


@dataclass(frozen=True)
class Answer:
    """Any answer: ``code`` (0 = success), ``message`` and the raw JSON."""

    code: int
    message: str
    raw: dict[str, Any] = field(repr=False)

    @property
    def ok(self) -> bool:
        return self.code == CashboxCode.OK

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Answer:
        return cls(code=_code(raw), message=_s(raw.get("message")), raw=raw)


@dataclass(frozen=True)
class FiscalAnswer:
    code: int
    message: str
    document_id: int
    fiscal_id: str
    fiscal_num: str
    doc_time: str
    print_time: str
    doc_status: int
    extra: FiscalExtra | None
    print_error: int = 0
    rrn: str = ""
    auth: str = ""
    card_num: str = ""
    check_num: str = ""
    total_payments: tuple[tuple[str, int], ...] = ()
    fn_state: str | None = None  # set when the FN refused the document
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.code == CashboxCode.OK

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> FiscalAnswer:
        pays = raw.get("totalPayments")
        total = tuple((_s(p.get("code")), _i(p.get("amount"))) for p in pays if isinstance(p, dict)) \
            if isinstance(pays, list) else ()
        return cls(code=_code(raw), message=_s(raw.get("message")),
                   document_id=_i(raw.get("documentID")), fiscal_id=_s(raw.get("fiscalID")),
                   fiscal_num=_s(raw.get("fiscalNum")), doc_time=_s(raw.get("docTime")),
                   print_time=_s(raw.get("printTime")), doc_status=_i(raw.get("docStatus"), 1),
                   extra=FiscalExtra.parse(raw.get("extraParams")), print_error=_i(raw.get("printError")),
                   rrn=_s(raw.get("rrn")), auth=_s(raw.get("auth")), card_num=_s(raw.get("cardNum") or
                                                                              raw.get("card_num")),
                   check_num=_s(raw.get("checkNum")), total_payments=total, fn_state=raw.get("fnState"), raw=raw)


def _flag(v: Any) -> bool:
    return v is True or v == "true" or v == 1


@dataclass(frozen=True)
class RegisterInfo:
    code: int
    message: str
    kkt_serial: str
    registered: bool
    fn_number: str | None
    kkt_reg_number: str | None
    fn_state: str  # ok, full, broken, blocked; none without an FN
    fn_fill_percent: float
    fn_expiry: str | None
    last_fd_number: int
    is_shift_open: bool
    shift_id: int
    shift_open_at: str | None
    auto_shift: bool
    unsent_count: int
    warnings: tuple[int, ...]
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.code == CashboxCode.OK

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> RegisterInfo:
        w = raw.get("warnings")
        return cls(code=_code(raw), message=_s(raw.get("message")), kkt_serial=_s(raw.get("kktSerial")),
                   registered=_flag(raw.get("registered")), fn_number=raw.get("fnNumber"),
                   kkt_reg_number=raw.get("kktRegNumber"), fn_state=_s(raw.get("fnState")),
                   fn_fill_percent=float(raw.get("fnFillPercent") or 0), fn_expiry=raw.get("fnExpiry"),
                   last_fd_number=_i(raw.get("lastFdNumber")), is_shift_open=_flag(raw.get("isShiftOpen")),
                   shift_id=_i(raw.get("shiftID")), shift_open_at=raw.get("shiftOpenAt"),
                   auto_shift=_flag(raw.get("autoShift")), unsent_count=_i(raw.get("unsentCount")),
                   warnings=tuple(_i(x) for x in w) if isinstance(w, list) else (), raw=raw)


@dataclass(frozen=True)
class ShiftState:
    code: int
    message: str
    is_open: bool
    shift_id: int
    open_at: str
    cash: int
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.code == CashboxCode.OK

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> ShiftState:
        is_open = _flag(raw.get("isShiftOpen")) or (
            "fiscalShiftID" in raw and raw.get("code") == CashboxCode.OK and "shiftCloseAt" not in raw)
        return cls(code=_code(raw), message=_s(raw.get("message")), is_open=is_open, shift_id=_i(raw.get("shiftID")),
                   open_at=_s(raw.get("shiftOpenAt")), cash=_i(raw.get("cash")), raw=raw)


class CashboxClient:
    """The protocol's calls, typed. Raises only ``RegisterUnreachable``."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def aclose(self) -> None:
        """Close the transport's connections (an ``HttpTransport`` that made its own client)."""
        close = getattr(self.transport, "aclose", None)
        if close is not None:
            await close()

    async def __aenter__(self) -> CashboxClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def call(self, endpoint: str, request: dict[str, Any]) -> dict[str, Any]:
        return await self.transport.send(endpoint, request)

    async def _fiscal(self, endpoint: str, request: dict[str, Any]) -> FiscalAnswer:
        return FiscalAnswer.parse(await self.call(endpoint, request))

    async def sale(self, doc: dict[str, Any]) -> FiscalAnswer:
        return await self._fiscal("sale", doc)

    async def refund(self, doc: dict[str, Any]) -> FiscalAnswer:
        return await self._fiscal("refund", doc)

    async def rollback(self, document_id: int) -> FiscalAnswer:
        return await self._fiscal("rollback", {"documentID": document_id})

    async def prepay(self, doc: dict[str, Any]) -> FiscalAnswer:
        return await self._fiscal("prepay", doc)

    async def creditpay(self, doc: dict[str, Any]) -> FiscalAnswer:
        return await self._fiscal("creditpay", doc)

    async def order(self, doc: dict[str, Any]) -> FiscalAnswer:
        return await self._fiscal("order", doc)

    async def correction(self, doc: dict[str, Any]) -> FiscalAnswer:
        return await self._fiscal("correction", doc)

    async def check_status(self, document_id: int | None = None, *, document_ext_id: str | None = None,
                           fiscal_id: str | None = None) -> FiscalAnswer:
        req: dict[str, Any] = {}
        if document_id is not None:
            req["documentID"] = document_id
        if document_ext_id is not None:
            req["documentExtID"] = document_ext_id
        if fiscal_id is not None:
            req["fiscalID"] = fiscal_id
        return await self._fiscal("check_status", req)

    async def check_copy(self, document_id: int) -> FiscalAnswer:
        return await self._fiscal("check_copy", {"documentID": document_id})

    async def last_document(self, *, document_ext_id: str | None = None, doc_time: str | None = None,
                            doc_number: str | None = None, amount: int | None = None) -> FiscalAnswer:
        """The last document, or the one with this documentExtID or docTime + docNumber + amount."""
        req: dict[str, Any] = {}
        if document_ext_id is not None:
            req["documentExtID"] = document_ext_id
        if doc_time is not None:
            req.update(docTime=doc_time, docNumber=doc_number, amount=amount)
        return await self._fiscal("last_document", req)

    async def get_info(self) -> RegisterInfo:
        return RegisterInfo.parse(await self.call("get_info", {}))

    async def check_shift(self) -> ShiftState:
        return ShiftState.parse(await self.call("check_shift", {}))

    async def open_shift(self) -> ShiftState:
        return ShiftState.parse(await self.call("open_shift", {}))

    async def close_shift(self, open_orders_operation: str = "check") -> Answer:
        return Answer.parse(await self.call("close_shift", {"openOrdersOperation": open_orders_operation}))

    async def x_report(self, shift_id: int | None = None) -> Answer:
        return Answer.parse(await self.call("x_report", {} if shift_id is None else {"shiftID": shift_id}))

    async def deposit(self, amount: int) -> Answer:
        return Answer.parse(await self.call("deposit", {"amount": amount}))

    async def withdraw(self, amount: int) -> Answer:
        return Answer.parse(await self.call("withdraw", {"amount": amount}))

    async def dates_report(self, date_from: str, date_for: str) -> Answer:
        return Answer.parse(await self.call("dates_report", {"dateFrom": date_from, "dateFor": date_for}))
