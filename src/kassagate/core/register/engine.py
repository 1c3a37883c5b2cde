"""The register: the dispatcher of its twenty endpoints over a ``Store`` and a state.

Pure: ``now`` (the register's local time, tz-aware), ``rng`` (the virtual bank terminal's
randomness) are passed in; documents go through the ``Store`` port. Every request runs
against a savepoint of the store and a copy of the state: an error answer leaves nothing
behind. The endpoints live in ``endpoints/`` by family (receipts, other documents,
shifts, lookups, reports); what several families need (the FN, a new document, the
answer about a stored document, counting a document into the kept totals) lives here on
``Register``.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from kassagate.core.codes import CashboxCode as C
from kassagate.core.fn import FiscalDrive, FnRefused, naive
from kassagate.core.register import reports, rules
from kassagate.core.register.endpoints import HANDLERS
from kassagate.core.register.endpoints.common import CARD_EMPTY, fiscal_id
from kassagate.core.register.model import CashboxError, Doc, RegisterState, Store, error_answer
from kassagate.core.register.rules import Item, get_bool, get_int, get_str

#: Print error code of a failing (virtual) printer.
PRINT_ERROR_PRINTER = 1

ENDPOINTS: tuple[str, ...] = (
    "sale", "refund", "rollback", "order", "preorder", "prepay", "creditpay", "check_status", "check_copy",
    "last_document", "x_report", "open_shift", "close_shift", "check_shift", "deposit", "withdraw", "get_info",
    "control_tape", "correction", "dates_report",
)

#: Endpoints that never change the journal.
READ_ONLY: frozenset[str] = frozenset(
    {"check_status", "last_document", "x_report", "check_shift", "get_info", "control_tape", "dates_report",
     "preorder", "check_copy"}
)

if set(HANDLERS) != set(ENDPOINTS):
    raise ImportError("every endpoint needs exactly one handler in core/register/endpoints")


def time_text(now: dt.datetime) -> str:
    """``now`` as the register writes it (``TIME_FORMAT``, the wall time of its zone)."""
    return naive(now).isoformat(" ", "seconds")


class Ctx:
    """What a request runs with: the register's local time (and its text) and the
    terminal's randomness."""

    __slots__ = ("now", "rng", "ts")

    def __init__(self, now: dt.datetime, rng: random.Random, ts: str | None = None) -> None:
        self.now = now
        self.rng = rng
        self.ts = time_text(now) if ts is None else ts


class Register:
    """The rules of one register. ``handle`` never raises for bad input."""

    def __init__(self, state: RegisterState, store: Store) -> None:
        self.state = state
        self.store = store
        # The requests of one batch share their ``now``: its text is rendered once.
        self._now: dt.datetime | None = None
        self._ts = ""

    # -- entry point -------------------------------------------------------------------

    def handle(self, endpoint: str, req: dict[str, Any], now: dt.datetime, rng: random.Random) -> dict[str, Any]:
        """Answer one request. On an error answer (or an exception, re-raised) the store is
        rolled back to before the request and the state restored."""
        handler = HANDLERS.get(endpoint)
        if handler is None:
            return error_answer(C.NOT_FOUND, f"unknown endpoint /{endpoint[:40]}: the endpoints are "
                                + ", ".join(f"/{e}" for e in ENDPOINTS))
        if now is not self._now:
            self._now, self._ts = now, time_text(now)
        state = self.state
        saved = state.snapshot()
        self.store.savepoint()
        try:
            if state.fn is not None:
                state.fn.sync_ofd()
            answer = handler(self, req, Ctx(now, rng, self._ts))
        except CashboxError as e:
            answer = e.answer()
        except BaseException:
            self.store.rollback_savepoint()
            state.restore(saved)
            raise
        if answer.get("code") != 0:
            self.store.rollback_savepoint()
            state.restore(saved)
            return answer
        try:
            self.store.release_savepoint()
        except BaseException:
            state.restore(saved)
            raise
        if state.shift_id_type != "int" or state.fiscal_id_type != "string":
            return _retype(answer, state)
        return answer

    # -- what the endpoint families share ----------------------------------------------

    def drive(self, code: C = C.INTERNAL) -> FiscalDrive:
        """The FN, or the error ``code`` when the register has none."""
        if self.state.fn is None:
            raise CashboxError(code, "the register has no fiscal registration (no FN): it cannot fiscalize",
                               fnState="none")
        return self.state.fn

    def issue(self, fd_type: str, cx: Ctx, total: int = 0, sign: int = 0, code: C = C.INTERNAL,
              checked: bool = False) -> tuple[int, int]:
        """(FD number, fiscal sign) of a new fiscal document; an FN refusal is ``code``."""
        fn = self.drive(code)
        try:
            return fn.issue(fd_type, cx.now, total, sign, checked=checked)
        except FnRefused as e:
            raise CashboxError(code, e.message, fnState=e.state) from None

    def new_doc(self, kind: str, origin: str, cx: Ctx, **kw: Any) -> Doc:
        self.state.last_doc_id += 1
        return Doc(id=self.state.last_doc_id, kind=kind, origin=origin, status=1, shift=self.state.shift_number,
                   time=cx.ts, **kw)

    def count(self, doc: Doc) -> None:
        """Count ``doc`` into the kept totals: the open shift's (in the state) and its
        day's (in the store, written with the document)."""
        self.state.shift_totals = reports.add(self.state.shift_totals, doc)
        self.store.count(doc)

    def print_error(self, req: dict[str, Any] | None = None) -> int:
        if req is not None and get_bool(req, "skipReceiptPrint"):
            return 0
        return PRINT_ERROR_PRINTER if self.state.printer_fail else 0

    def identity(self, req: dict[str, Any]) -> tuple[str | None, str | None, str | None, str | None]:
        """(documentExtID, idempotency key, docTime, docNumber) of a request."""
        ext = get_str(req, "documentExtID", max_len=128)
        doc_time = rules.get_doc_time(req)
        number = get_str(req, "docNumber", max_len=128)
        idem = None
        if doc_time is not None:
            amount = req.get("amount")
            a = amount if isinstance(amount, int | str) and not isinstance(amount, bool) else ""
            idem = f"{doc_time}|{number or ''}|{a}"
        return ext, idem, doc_time, number

    def replay(self, origin: str | None, ext: str | None, idem: str | None) -> Doc | None:
        """The document a repeated request (same documentExtID or idempotency key) made."""
        doc = self.store.find(origin, ext_id=ext) if ext else None
        if doc is None and idem:
            doc = self.store.find(origin, idem=idem)
        return doc

    def answer_of(self, doc: Doc) -> dict[str, Any]:
        """The answer about ``doc`` (check_status, check_copy, last_document, a resend): its
        stored answer with its current docStatus. Every field of a fiscal document's answer
        is there whatever the document (a deposit, a shift report, the registration report
        has no card or payments: empty values)."""
        answer = doc.answer
        if "rrn" in answer:  # a receipt's or an order's own answer: complete
            out = dict(answer)
        else:
            extra = answer.get("extraParams")
            if extra is None:
                extra = self.extra_params(doc, fd_type=doc.kind) if doc.fd is not None else {}
            out = {"status": "success", "code": 0, "message": "", "printError": 0, "documentID": doc.id,
                   "fiscalID": fiscal_id(doc.fd), "fiscalNum": "" if doc.fd is None else str(doc.fd),
                   "docTime": doc.doc_time or doc.time, "printTime": doc.time, **CARD_EMPTY, "totalPayments": [],
                   "shiftOrdersCnt": self.state.open_orders, **answer, "extraParams": extra}
        # A journal may hold answers written in other forms: brought to the current ones.
        if out.get("documentExtID") == "":
            del out["documentExtID"]
        fid = out.get("fiscalID")
        if fid and fid.__class__ is str and len(fid) < 12 and fid.isdigit():
            out["fiscalID"] = fiscal_id(int(fid))
        out["docStatus"] = doc.status
        return out

    def rates(self) -> frozenset[int] | None:
        setting = self.state.tax_rates
        return None if setting is None else rules.rates_of(tuple(setting))

    def doc_ref(self, req: dict[str, Any], name: str = "documentID") -> int:
        return get_int(req, name, required=True, minimum=1, maximum=2**62, range_code=C.NOT_FOUND)

    def get(self, document_id: int) -> Doc:
        doc = self.store.get(document_id)
        if doc is None:
            raise CashboxError(C.NOT_FOUND, f"document {document_id} not found")
        return doc

    def items_of(self, doc: Doc) -> list[Item]:
        items = rules.parse_items(doc.request.get("items"), day=dt.date.min, any_rate=True, rates=rules.ANY_PERCENT)
        if doc.summary.get("reading") == rules.NET:
            items = [i._replace(amount=i.amount + i.discount) for i in items]
        return items

    def extra_params(self, doc: Doc, *, fd_type: str, qr: str | None = None) -> dict[str, Any]:
        """``extraParams`` of a fiscal document's answer."""
        fn = self.state.fn
        out: dict[str, Any] = {
            "fnNumber": fn.serial if fn else "", "fdNumber": doc.fd, "fiscalSign": str(doc.fp),
            "shiftNumber": doc.shift, "kktRegNumber": fn.reg_number if fn else "", "fiscalDocType": fd_type,
        }
        if qr is not None:
            out["receiptNumber"] = self.state.shift_receipts
            out["qr"] = qr
            out["settlementSign"] = doc.sign
        return out


def _retype(answer: dict[str, Any], state: RegisterState) -> dict[str, Any]:
    """The answer with ``shiftID``/``fiscalShiftID`` and ``fiscalID`` in the JSON types the
    register's settings name (``shift_id_type``, ``fiscal_id_type``)."""
    out = dict(answer)
    if state.shift_id_type == "string":
        for key in ("shiftID", "fiscalShiftID"):
            v = out.get(key)
            if v.__class__ is int:
                out[key] = str(v)
    if state.fiscal_id_type == "int":
        v = out.get("fiscalID")
        if isinstance(v, str):
            out["fiscalID"] = int(v) if v.isascii() and v.isdigit() else 0
    return out
