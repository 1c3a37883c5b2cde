"""The register: the twenty endpoints of ``cashbox.md`` §5 over a ``Store`` and a state.

Pure: ``now`` (the register's local time, tz-aware), ``rng`` (the virtual bank terminal's
randomness) are passed in; documents go through the ``Store`` port. Every request runs
against a savepoint of the store and a copy of the state: an error answer leaves nothing
behind.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from typing import Any

from kassagate.core.codes import CashboxCode as C
from kassagate.core.fn import FiscalDrive, FnRefused, naive
from kassagate.core.qr import build_qr
from kassagate.core.register import reports, rules
from kassagate.core.register.model import TIME_FORMAT, CashboxError, Doc, RegisterState, Store, error_answer
from kassagate.core.register.rules import MAX_MONEY, Item, get_bool, get_int, get_str
from kassagate.core.tables import SHIFT_MAX_DURATION

#: Cloud mode closes and reopens a shift this long before it reaches 24 hours.
ROTATE_MARGIN = dt.timedelta(minutes=5)

_ROTATE_AT = SHIFT_MAX_DURATION - ROTATE_MARGIN

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


#: The report category of a receipt by its settlement sign (1054).
_CATEGORY_OF_SIGN = {1: "sale", 2: "moneyBack", 3: "purchase", 4: "purchaseBack"}
_CARD_EMPTY = {"rrn": "", "auth": "", "cardNum": "", "checkNum": ""}
_CARD_BINS = ("220220", "427638", "537541", "400000", "510621")


_Check = Callable[[list[Item], dict[str, int]], Callable[[Doc], None] | None]


class Ctx:
    """What a request runs with: the register's local time and the terminal's randomness."""

    __slots__ = ("now", "rng", "ts")

    def __init__(self, now: dt.datetime, rng: random.Random) -> None:
        global _LAST_TS
        self.now = now
        self.rng = rng
        last = _LAST_TS  # requests of one batch share their ``now``
        if last[0] is not now:
            last = _LAST_TS = (now, naive(now).isoformat(" ", "seconds"))  # TIME_FORMAT
        self.ts = last[1]


#: The last ``now`` a ``Ctx`` rendered and its text (one tuple, swapped whole).
_LAST_TS: tuple[dt.datetime | None, str] = (None, "")


class Register:
    """The rules of one register. ``handle`` never raises for bad input."""

    def __init__(self, state: RegisterState, store: Store) -> None:
        self.state = state
        self.store = store
        self._handlers: dict[str, Callable[[dict[str, Any], Ctx], dict[str, Any]]] = {
            name: getattr(self, f"_ep_{name}") for name in ENDPOINTS
        }

    # -- entry point -------------------------------------------------------------------

    def handle(self, endpoint: str, req: dict[str, Any], now: dt.datetime, rng: random.Random) -> dict[str, Any]:
        """Answer one request. On an error answer (or an exception, re-raised) the store is
        rolled back to before the request and the state restored."""
        handler = self._handlers.get(endpoint)
        if handler is None:
            return error_answer(C.NOT_FOUND, f"unknown endpoint /{endpoint[:40]}: the endpoints are "
                                + ", ".join(f"/{e}" for e in ENDPOINTS))
        state = self.state
        saved = state.snapshot()
        self.store.savepoint()
        try:
            if state.fn is not None:
                state.fn.sync_ofd()
            answer = handler(req, Ctx(now, rng))
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

    # -- helpers -----------------------------------------------------------------------

    def _fn(self, code: C = C.INTERNAL) -> FiscalDrive:
        if self.state.fn is None:
            raise CashboxError(code, "the register has no fiscal registration (no FN): it cannot fiscalize",
                               fnState="none")
        return self.state.fn

    def _issue(self, fd_type: str, cx: Ctx, total: int = 0, sign: int = 0, code: C = C.INTERNAL,
               checked: bool = False) -> tuple[int, int]:
        fn = self._fn(code)
        try:
            return fn.issue(fd_type, cx.now, total, sign, checked=checked)
        except FnRefused as e:
            raise CashboxError(code, e.message, fnState=e.state) from None

    def _new_doc(self, kind: str, origin: str, cx: Ctx, **kw: Any) -> Doc:
        self.state.last_doc_id += 1
        return Doc(id=self.state.last_doc_id, kind=kind, origin=origin, status=1, shift=self.state.shift_number,
                   time=cx.ts, **kw)

    def _print_error(self, req: dict[str, Any] | None = None) -> int:
        if req is not None and get_bool(req, "skipReceiptPrint"):
            return 0
        return PRINT_ERROR_PRINTER if self.state.printer_fail else 0

    def _identity(self, req: dict[str, Any]) -> tuple[str | None, str | None, str | None, str | None]:
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

    def _replay(self, origin: str | None, ext: str | None, idem: str | None) -> Doc | None:
        doc = self.store.find(origin, ext_id=ext) if ext else None
        if doc is None and idem:
            doc = self.store.find(origin, idem=idem)
        return doc

    def _answer_of(self, doc: Doc) -> dict[str, Any]:
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
                extra = self._extra(doc, fd_type=doc.kind) if doc.fd is not None else {}
            out = {"status": "success", "code": 0, "message": "", "printError": 0, "documentID": doc.id,
                   "fiscalID": fiscal_id(doc.fd), "fiscalNum": "" if doc.fd is None else str(doc.fd),
                   "docTime": doc.doc_time or doc.time, "printTime": doc.time, **_CARD_EMPTY, "totalPayments": [],
                   "shiftOrdersCnt": self.state.open_orders, **answer, "extraParams": extra}
        # A journal may hold answers written in other forms: brought to the current ones.
        if out.get("documentExtID") == "":
            del out["documentExtID"]
        fid = out.get("fiscalID")
        if fid and fid.__class__ is str and len(fid) < 12 and fid.isdigit():
            out["fiscalID"] = fiscal_id(int(fid))
        out["docStatus"] = doc.status
        return out

    def _rates(self) -> frozenset[int] | None:
        setting = self.state.tax_rates
        return None if setting is None else rules.rates_of(tuple(setting))

    def _doc_ref(self, req: dict[str, Any], name: str = "documentID") -> int:
        return get_int(req, name, required=True, minimum=1, maximum=2**62, range_code=C.NOT_FOUND)

    def _get(self, document_id: int) -> Doc:
        doc = self.store.get(document_id)
        if doc is None:
            raise CashboxError(C.NOT_FOUND, f"document {document_id} not found")
        return doc

    def _items_of(self, doc: Doc) -> list[Item]:
        items = rules.parse_items(doc.request.get("items"), day=dt.date.min, any_rate=True, rates=rules.ANY_PERCENT)
        if doc.summary.get("reading") == rules.NET:
            items = [i._replace(amount=i.amount + i.discount) for i in items]
        return items

    # -- shifts ------------------------------------------------------------------------

    def _ensure_shift(self, cx: Ctx) -> None:
        """A document needs an open shift of under 24 hours. Cloud mode opens one, or
        closes and reopens one about to reach 24 hours; device mode answers 6 or 22."""
        s = self.state
        if s.shift_open:
            age = s.shift_age(cx.now)
            if s.auto_shift and age >= _ROTATE_AT:
                self._close_shift_doc(cx, "auto", C.INTERNAL)
                self._open_shift_doc(cx, "auto", C.INTERNAL)
            elif not s.auto_shift and age >= SHIFT_MAX_DURATION:
                raise CashboxError(C.SHIFT_EXPIRED, f"shift {s.shift_number} opened at {s.shift_opened_at} has lasted "
                                                    "24 hours or more: close it (/close_shift) and open a new one")
            return
        if not s.auto_shift:
            raise CashboxError(C.SHIFT_NOT_OPEN, "no shift is open: open one with /open_shift first")
        self._open_shift_doc(cx, "auto", C.INTERNAL)

    def _open_shift_doc(self, cx: Ctx, origin: str, code: C) -> Doc:
        s = self.state
        fd, fp = self._issue("open_shift", cx, code=code)
        s.shift_number += 1
        s.shift_open = True
        s.shift_opened_at = cx.ts
        s.shift_docs = s.shift_receipts = s.shift_cash_in = s.shift_cash_out = 0
        s.shift_start_cash = s.cash
        s.shift_totals = {}
        doc = self._new_doc("open_shift", origin, cx, fd=fd, fp=fp)
        doc.answer = {
            "status": "success", "code": 0, "message": "", "printError": self._print_error(),
            "shiftID": s.shift_number, "fiscalShiftID": s.shift_number, "shiftOpenAt": cx.ts,
            "documentID": doc.id, "fiscalID": fiscal_id(fd), "fiscalNum": str(fd), "cash": s.cash,
            "extraParams": self._extra(doc, fd_type="open_shift"),
        }
        self.store.add(doc)
        return doc

    def _close_shift_doc(self, cx: Ctx, origin: str, code: C) -> Doc:
        s = self.state
        sums = reports.render(s.shift_totals)
        fd, fp = self._issue("close_shift", cx, code=code)
        doc = self._new_doc("close_shift", origin, cx, fd=fd, fp=fp)
        doc.summary = {"cash": s.cash, "cashRest": s.shift_start_cash, "openedAt": s.shift_opened_at,
                       "cashIn": s.shift_cash_in, "cashOut": s.shift_cash_out, "totals": sums}
        doc.answer = {
            "status": "success", "code": 0, "message": "", "printError": self._print_error(),
            "shiftID": s.shift_number, "fiscalShiftID": s.shift_number, "shiftOpenAt": s.shift_opened_at,
            "shiftCloseAt": cx.ts, "documentID": doc.id, "fiscalID": fiscal_id(fd), "fiscalNum": str(fd),
            "cash": s.cash, "cashRest": s.shift_start_cash, **sums,
            "extraParams": self._extra(doc, fd_type="close_shift"),
        }
        self.store.add(doc)
        s.shift_open = False
        return doc

    def _extra(self, doc: Doc, *, fd_type: str, qr: str | None = None) -> dict[str, Any]:
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

    # -- the fiscal receipt ------------------------------------------------------------

    def _terminal(self, amount: int, cx: Ctx, rrn: str | None = None) -> dict[str, str]:
        if amount <= 0:
            return dict(_CARD_EMPTY)
        if self.state.terminal_fail:
            raise CashboxError(C.PAYMENT_TYPE_UNSUPPORTED, "cashless payment refused: the bank terminal is not "
                                                           "available; pay another way or retry later")
        self.state.terminal_checks += 1
        r = cx.rng
        # n digits, zero-padded: the last n digits of 10**n + a number below 10**n
        return {
            "rrn": rrn or str(10**12 + r.randrange(10**12))[1:],
            "auth": str(10**6 + r.randrange(10**6))[1:],
            "cardNum": f"{r.choice(_CARD_BINS)}******{str(10**4 + r.randrange(10**4))[1:]}",
            "checkNum": str(self.state.terminal_checks),
        }

    def _receipt(self, req: dict[str, Any], cx: Ctx, *, kind: str, origin: str, signs: tuple[int, ...],
                 any_rate: bool = False, into: Doc | None = None,
                 check: Callable[[list[Item], dict[str, int]], Callable[[Doc], None] | None] | None = None,
                 card_rrn: str | None = None,
                 identity: tuple[str | None, str | None, str | None, str | None] | None = None,
                 rates: frozenset[int] | None = None) -> dict[str, Any]:
        """Validate, take payment, fiscalize and print one receipt; ``check`` adds the
        endpoint's own rules and returns what to do once the document exists."""
        ext, idem, doc_time, number = identity or self._identity(req)
        amount = req.get("amount")
        if amount.__class__ is not int or not 0 <= amount <= MAX_MONEY:
            amount = get_int(req, "amount", required=True)
        items = rules.parse_items(req.get("items"), day=cx.now.date(), any_rate=any_rate, prepay=kind == "prepay",
                                  rates=rates or self._rates())
        items, reading = rules.check_amount(items, amount)
        sign = rules.check_extensions(req, allowed_signs=signs)
        pays = rules.parse_payments(req)
        change = rules.settle(pays, amount)
        after = check(items, pays) if check is not None else None
        self._ensure_shift(cx)
        fn = self._fn()
        try:
            fn.check("receipt", cx.now)
        except FnRefused as e:
            raise CashboxError(C.INTERNAL, e.message, fnState=e.state) from None
        rrn = card_rrn
        payments = req.get("payments")
        if isinstance(payments, dict) and payments.get("rrn") not in (None, ""):
            rrn = str(payments["rrn"])[:32]
        card = self._terminal(pays["V"], cx, rrn if kind in ("refund", "rollback") else None)
        fd, fp = fn.issue("receipt", cx.now, amount, sign, checked=True)  # checked: cannot refuse now
        s = self.state
        s.shift_docs += 1
        s.shift_receipts += 1
        net = rules.net_payments(pays, change)
        s.cash += net["C"] if sign in (1, 4) else -net["C"]
        cat = _CATEGORY_OF_SIGN[sign]
        if kind == "prepay":
            cat = "prepay"
        elif kind == "creditpay":
            cat = "creditPay"
        if into is None:
            doc = self._new_doc(kind, origin, cx)
        else:
            doc = into
            doc.kind, doc.status, doc.shift, doc.time = kind, 1, s.shift_number, cx.ts
        doc.fd, doc.fp, doc.sign, doc.amount = fd, fp, sign, amount
        doc.doc_time, doc.doc_number = doc_time or doc.doc_time, number or doc.doc_number
        doc.ext_id, doc.idem = ext or doc.ext_id, idem or doc.idem
        doc.request = req
        pay: dict[str, int] = {}
        for k, v in net.items():
            if v:
                pay[k] = v
        doc.summary = {"cat": cat, "pay": pay, "vat": rules.vat_sums(items), "reading": reading}
        if pays["K"] and kind == "sale":
            doc.progress["credit_left"] = pays["K"]
        if kind == "prepay":
            doc.progress["left"] = amount
        if card["rrn"]:
            doc.progress["rrn"] = card["rrn"]
        if after is not None:
            after(doc)
        qr = build_qr(when=cx.now, total=amount, fn_serial=fn.serial, fd=fd, fp=fp, sign=sign)
        doc.answer = {
            "status": "success", "code": 0, "message": "", "printError": self._print_error(req),
            "documentID": doc.id, "fiscalID": fiscal_id(fd), "fiscalNum": str(fd),
            "docTime": doc.doc_time or cx.ts, "printTime": cx.ts, "docStatus": 1, **card,
            "totalPayments": [{"code": k, "amount": v} for k, v in pays.items() if v],
            "change": change, "shiftOrdersCnt": s.open_orders,
            "extraParams": self._extra(doc, fd_type="receipt", qr=qr),
        }
        _echo_ext(doc.answer, req)
        s.shift_totals = reports.add(s.shift_totals, doc)
        if into is None:
            self.store.add(doc)
        else:
            self.store.update(doc)
        return dict(doc.answer)

    # -- endpoints ---------------------------------------------------------------------

    def _ep_sale(self, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
        if req.get("documentID") not in (None, "", 0):
            return self._pay_order(req, cx)
        ident = self._identity(req)
        hit = self._replay("sale", ident[0], ident[1])
        if hit is not None:
            return self._answer_of(hit)
        return self._receipt(req, cx, kind="sale", origin="sale", signs=(1, 3), check=self._prepay_check(req),
                             identity=ident)

    def _prepay_check(self, req: dict[str, Any]) -> _Check:
        def check(items: list[Item], pays: dict[str, int]) -> Callable[[Doc], None] | None:
            if pays["P"] == 0 or get_bool(req, "prepaymentExternal"):
                return None
            if req.get("prepayDocID") in (None, "") and req.get("prepayDocNum") in (None, ""):
                raise CashboxError(C.PREPAY_DOC_MISSING, "prepaymentAmount is set but prepayDocID (the documentID "
                                                         "of the prepayment receipt) is missing")
            if req.get("prepayDocID") not in (None, ""):
                pid = get_int(req, "prepayDocID", minimum=1, maximum=2**62, range_code=C.NOT_FOUND)
                pdoc = self.store.get(pid)
            else:
                pnum = get_int(req, "prepayDocNum", minimum=1, maximum=2**62, range_code=C.NOT_FOUND)
                pdoc = self.store.by_fd(pnum)
            if pdoc is None or pdoc.kind != "prepay":
                raise CashboxError(C.NOT_FOUND, "the prepayment receipt named by prepayDocID/prepayDocNum "
                                                "was not found")
            pitems = self._items_of(pdoc)
            for it in items:
                if not any(p.matches(it) for p in pitems):
                    raise CashboxError(C.PREPAY_ITEM_NOT_FOUND, f"items[{it.index}] ({it.name!r}) is not in the "
                                                                f"prepayment receipt {pdoc.id}")
            left = int(pdoc.progress.get("left", pdoc.amount))
            if pays["P"] > left:
                raise CashboxError(C.AMOUNT_MISMATCH, f"prepaymentAmount {pays['P']} exceeds the advance left on "
                                                      f"prepayment receipt {pdoc.id}: {left}")

            def after(doc: Doc) -> None:
                pdoc.progress["left"] = left - pays["P"]
                self.store.update(pdoc)
                doc.parent_id = pdoc.id
            return after
        return check

    def _pay_order(self, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
        oid = self._doc_ref(req)
        order = self._get(oid)
        if order.origin != "order":
            raise CashboxError(C.NOT_FOUND, f"document {oid} is not an order")
        if order.status == 1:
            return self._answer_of(order)
        if order.status == 2:
            raise CashboxError(C.NOT_FOUND, f"order {oid} was deleted when its shift was closed")
        merged = {**order.request, **{k: v for k, v in req.items() if k != "documentID"}}
        self.state.open_orders -= 1
        return self._receipt(merged, cx, kind="sale", origin="order", signs=(1, 3), into=order,
                             check=self._prepay_check(merged))

    def _ep_prepay(self, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
        ext, idem, _, _ = self._identity(req)
        hit = self._replay("prepay", ext, idem)
        if hit is not None:
            return self._answer_of(hit)
        return self._receipt(req, cx, kind="prepay", origin="prepay", signs=(1,))

    def _ep_refund(self, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
        ext, idem, _, _ = self._identity(req)
        hit = self._replay("refund", ext, idem)
        if hit is not None:
            return self._answer_of(hit)
        ref = get_str(req, "parentDocID", max_len=32)
        if ref is None:
            return self._receipt(req, cx, kind="refund", origin="refund", signs=(2, 4), any_rate=True)
        parent = self.store.by_fd(int(ref)) if ref.isascii() and ref.isdigit() and len(ref) < 19 else None
        if parent is None or parent.kind != "sale":
            raise CashboxError(C.NOT_FOUND, f"parentDocID {ref!r}: no sale with this fiscalID")
        pitems = self._items_of(parent)
        refunded: dict[str, int] = parent.progress.get("refunded", {})

        def check(items: list[Item], pays: dict[str, int]) -> Callable[[Doc], None]:
            pending: dict[str, int] = {}
            for it in items:
                match = next((p for p in pitems if p.matches(it)), None)
                if match is None:
                    raise CashboxError(C.REFUND_ITEM_NOT_FOUND, f"items[{it.index}] ({it.name!r}) is not in sale "
                                                                f"{parent.id} (fiscalID {ref})")
                key = str(match.index)
                pending[key] = pending.get(key, 0) + it.qty
                done = refunded.get(key, 0)
                if done + pending[key] > match.qty:
                    raise CashboxError(C.REFUND_QTY_EXCEEDED, f"items[{it.index}] ({it.name!r}): refunding "
                                       f"{pending[key]} of {match.qty} sold, {done} already refunded")

            def after(doc: Doc) -> None:
                for k, q in pending.items():
                    refunded[k] = refunded.get(k, 0) + q
                parent.progress["refunded"] = refunded
                self.store.update(parent)
                doc.parent_id = parent.id
            return after

        return self._receipt(req, cx, kind="refund", origin="refund", signs=((parent.sign or 1) + 1,),
                             any_rate=True, check=check, card_rrn=parent.progress.get("rrn"))

    def _ep_rollback(self, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
        doc = self._get(self._doc_ref(req))
        if doc.fd is None or doc.kind not in ("sale", "prepay", "creditpay"):
            raise CashboxError(C.NOT_FISCALIZED, f"document {doc.id} ({doc.kind}) was never fiscalized as a receipt: "
                                                 "nothing to roll back")
        if doc.progress.get("refunded") or doc.progress.get("rolled_back"):
            raise CashboxError(C.ALREADY_REFUNDED, f"document {doc.id} was already refunded in part or in full")
        if doc.kind == "prepay" and doc.progress.get("left", doc.amount) != doc.amount:
            raise CashboxError(C.ALREADY_REFUNDED, f"prepayment {doc.id} was already used by a sale")
        if doc.kind == "sale" and doc.progress.get("credit_left", 0) != doc.summary.get("pay", {}).get("K", 0):
            raise CashboxError(C.ALREADY_REFUNDED, f"sale {doc.id}'s loan was already repaid in part")
        pay = doc.summary.get("pay", {})
        body = {
            "amount": doc.amount, "items": doc.request.get("items", []), "settlementSign": (doc.sign or 1) + 1,
            "payments": {rules.PAYMENT_KINDS[k]: v for k, v in pay.items()},
            "skipReceiptPrint": get_bool(req, "skipReceiptPrint"),
        }
        if doc.kind == "creditpay":
            body["items"] = [{"itemName": "credit repayment", "itemQty": 1000, "itemAmount": doc.amount}]

        def after(new: Doc) -> None:
            doc.progress["rolled_back"] = new.id
            doc.progress["refunded"] = {str(i.index): i.qty for i in self._items_of(doc)} if doc.kind == "sale" else {}
            self.store.update(doc)
            new.parent_id = doc.id
        if doc.summary.get("reading") == rules.NET:  # the positions as the document was read
            body["items"] = [{**it, "itemAmount": i.amount} if isinstance(it, dict) else it
                             for it, i in zip(body["items"], self._items_of(doc), strict=True)]
        return self._receipt(body, cx, kind="rollback", origin="rollback", signs=((doc.sign or 1) + 1,),
                             any_rate=True, check=lambda items, pays: after, card_rrn=doc.progress.get("rrn"),
                             rates=rules.ANY_PERCENT)

    def _ep_creditpay(self, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
        ext, idem, _, _ = self._identity(req)
        hit = self._replay("creditpay", ext, idem)
        if hit is not None:
            return self._answer_of(hit)
        sale = self._credit_sale(req)
        if sale.kind != "sale" or "credit_left" not in sale.progress:
            raise CashboxError(C.NOT_FOUND, f"document {sale.id} is not a credit sale")
        contract = get_str(req, "creditContract", max_len=128)
        if contract is not None and contract != sale.request.get("creditContract", contract):
            raise CashboxError(C.NOT_FOUND, f"sale {sale.id} has another creditContract")
        pays = rules.parse_payments(req)
        kinds = [k for k, v in pays.items() if v > 0]
        if len(kinds) > 1:
            raise CashboxError(C.LOAN_ONE_PAYMENT_TYPE, f"a loan repayment is paid with one payment type only, got "
                                                        f"{', '.join(kinds)}")
        if not kinds:
            raise CashboxError(C.NOT_FULLY_PAID, "the repayment carries no payment")
        kind = kinds[0]
        if kind not in ("C", "V"):
            raise CashboxError(C.PAYMENT_TYPE_UNSUPPORTED, f"a loan is repaid in cash (C) or cashless (V), not {kind}")
        first = sale.progress.get("repay_kind")
        if first is not None and first != kind:
            raise CashboxError(C.LOAN_SINGLE_PAYMENT_TYPE, f"the loan of sale {sale.id} is being repaid with "
                                                           f"payment type {first}: keep to one payment type")
        value = pays[kind]
        left = int(sale.progress["credit_left"])
        if value > left:
            raise CashboxError(C.AMOUNT_MISMATCH, f"the repayment {value} exceeds what is left of the loan: {left}")
        if req.get("amount") is not None and get_int(req, "amount") != value:
            raise CashboxError(C.AMOUNT_MISMATCH, f"amount {req.get('amount')} differs from the payment {value}")
        body = {**req, "amount": value,
                "items": [{"itemName": f"credit repayment, sale {sale.id}", "itemQty": 1000, "itemAmount": value,
                           "paymentMethod": 7}]}

        def after(doc: Doc) -> None:
            sale.progress["credit_left"] = left - value
            sale.progress["repay_kind"] = kind
            self.store.update(sale)
            doc.parent_id = sale.id
        return self._receipt(body, cx, kind="creditpay", origin="creditpay", signs=(1,),
                             check=lambda items, p: after)

    def _credit_sale(self, req: dict[str, Any]) -> Doc:
        """The sale a repayment names: ``documentID``, or ``parentDocID`` = its fiscalID (as
        in ``/refund``)."""
        if req.get("documentID") in (None, "") and req.get("parentDocID") not in (None, ""):
            fd = get_int(req, "parentDocID", minimum=1, maximum=2**62, range_code=C.NOT_FOUND)
            sale = self.store.by_fd(fd)
            if sale is None:
                raise CashboxError(C.NOT_FOUND, f"parentDocID {req['parentDocID']!r}: no sale with this fiscalID")
            return sale
        if req.get("documentID") in (None, ""):
            raise CashboxError(C.MISSING_PARAMETER, "required parameter documentID (or parentDocID, the sale's "
                                                    "fiscalID) is missing")
        return self._get(self._doc_ref(req))

    def _ep_order(self, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
        ext, idem, doc_time, number = self._identity(req)
        hit = self._replay("order", ext, idem)
        if hit is not None:
            return self._answer_of(hit)
        amount = get_int(req, "amount", required=True)
        items = rules.parse_items(req.get("items"), day=cx.now.date(), any_rate=False, rates=self._rates())
        _, reading = rules.check_amount(items, amount)
        rules.check_extensions(req, allowed_signs=(1, 3))
        self._ensure_shift(cx)
        s = self.state
        s.open_orders += 1
        s.shift_docs += 1
        doc = self._new_doc("order", "order", cx, amount=amount, doc_time=doc_time, doc_number=number, ext_id=ext,
                            idem=idem, request=req)
        doc.status = 0
        doc.summary = {"reading": reading}
        doc.answer = {"status": "success", "code": 0, "message": "", "printError": 0, "documentID": doc.id,
                      "fiscalID": "", "fiscalNum": "", "docTime": doc_time or cx.ts,
                      "printTime": "", "docStatus": 0, **_CARD_EMPTY, "totalPayments": [], "amount": amount,
                      "shiftOrdersCnt": s.open_orders, "extraParams": {}}
        _echo_ext(doc.answer, req)
        self.store.add(doc)
        return dict(doc.answer)

    def _open_order(self, req: dict[str, Any]) -> Doc:
        doc = self._get(self._doc_ref(req))
        if doc.kind != "order" or doc.status != 0:
            raise CashboxError(C.NOT_FOUND, f"document {doc.id} is not an open order")
        return doc

    def _ep_preorder(self, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
        order = self._open_order(req)
        return {"status": "success", "code": 0, "message": "", "printError": self._print_error(req),
                "documentID": order.id, "docStatus": 0, "amount": order.amount,
                "items": order.request.get("items", []), "printTime": cx.ts}

    def _ep_check_status(self, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
        doc = self._lookup(req)
        return self._answer_of(doc)

    def _lookup(self, req: dict[str, Any]) -> Doc:
        if req.get("documentID") not in (None, ""):
            return self._get(self._doc_ref(req))
        ext = get_str(req, "documentExtID", max_len=128)
        if ext is not None:
            doc = self.store.find(None, ext_id=ext)
            if doc is None:
                raise CashboxError(C.NOT_FOUND, f"no document with documentExtID {ext!r}")
            return doc
        if req.get("fiscalID") not in (None, ""):
            fd = get_int(req, "fiscalID", minimum=1, maximum=2**62, range_code=C.NOT_FOUND)
            doc = self.store.by_fd(fd)
            if doc is None:
                raise CashboxError(C.NOT_FOUND, f"no document with fiscalID {fd}")
            return doc
        raise CashboxError(C.MISSING_PARAMETER, "required parameter documentID (or documentExtID, fiscalID) is missing")

    def _ep_check_copy(self, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
        doc = self._get(self._doc_ref(req))
        out = self._answer_of(doc)
        out["printError"] = self._print_error(req)
        out["items"] = doc.request.get("items", [])
        out["payments"] = doc.request.get("payments", {})
        out["extraPayments"] = doc.request.get("extraPayments", [])
        out["amount"] = doc.amount
        out["copy"] = True
        return out

    def _ep_last_document(self, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
        ext, idem, doc_time, _ = self._identity(req)
        if ext is not None or doc_time is not None:
            if doc_time is not None and (req.get("docNumber") in (None, "") or req.get("amount") is None):
                raise CashboxError(C.MISSING_PARAMETER, "docTime needs docNumber and amount to identify a document")
            doc = self._replay(None, ext, idem)
            if doc is None:
                raise CashboxError(C.NOT_FOUND, "no document with this documentExtID or docTime + docNumber + amount")
            return self._answer_of(doc)
        doc = self.store.last()
        if doc is None:
            raise CashboxError(C.NOT_FOUND, "the register has no document yet")
        return self._answer_of(doc)

    def _ep_x_report(self, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
        s = self.state
        sid = _shift_ref(req, C.SHIFT_NOT_OPEN)
        base = {"status": "success", "code": 0, "message": "", "printError": self._print_error(req)}
        if sid in (0, s.shift_number) and s.shift_open:
            return {**base, "shiftID": s.shift_number, "shiftOpenAt": s.shift_opened_at, "isShiftOpen": "true",
                    "cash": s.cash, "cashRest": s.shift_start_cash, "cashIn": s.shift_cash_in,
                    "cashOut": s.shift_cash_out, **reports.render(s.shift_totals)}
        if sid == 0:
            raise CashboxError(C.SHIFT_NOT_OPEN, "no shift is open; name a closed one with shiftID")
        close = self.store.close_report(sid)
        if close is None:
            raise CashboxError(C.SHIFT_NOT_OPEN, f"no shift {sid}")
        return {**base, "shiftID": sid, "shiftOpenAt": close.summary.get("openedAt"), "isShiftOpen": "false",
                "shiftCloseAt": close.time, "cash": close.summary.get("cash", 0),
                "cashRest": close.summary.get("cashRest", 0), "cashIn": close.summary.get("cashIn", 0),
                "cashOut": close.summary.get("cashOut", 0), **close.summary.get("totals", {})}

    def _ep_open_shift(self, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
        if self.state.shift_open:
            raise CashboxError(C.SHIFT_NOT_OPEN, f"shift {self.state.shift_number} is already open "
                                                 f"(since {self.state.shift_opened_at})")
        return dict(self._open_shift_doc(cx, "open_shift", C.SHIFT_UPDATE_ERROR).answer)

    def _ep_close_shift(self, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
        s = self.state
        if not s.shift_open:
            raise CashboxError(C.SHIFT_NOT_OPEN, "no shift is open")
        sid = _shift_ref(req, C.SHIFT_UPDATE_ERROR_2)
        if sid not in (0, s.shift_number):
            raise CashboxError(C.SHIFT_UPDATE_ERROR_2, f"shiftID {sid} is not the open shift ({s.shift_number}): "
                                                       "the shift data changed; check /check_shift")
        op = req.get("openOrdersOperation", "check")
        if op not in ("check", "delete", "renew"):
            raise CashboxError(C.INVALID_JSON, "openOrdersOperation must be check, delete or renew")
        if s.open_orders and op == "check":
            raise CashboxError(C.OPEN_ORDERS_REMAIN, f"{s.open_orders} open orders remain: pay them, or close with "
                                                     "openOrdersOperation delete or renew")
        # An expired shift can always be closed, empty or not: otherwise a device-mode
        # register whose empty shift ran past 24 hours could neither sell (22) nor close.
        if s.shift_docs == 0 and s.shift_age(cx.now) < SHIFT_MAX_DURATION:
            raise CashboxError(C.SHIFT_EMPTY, f"shift {s.shift_number} has no transactions")
        if s.cash > 0 and not s.auto_shift:
            raise CashboxError(C.CASH_REMAINS, f"{s.cash} kopecks remain in the drawer: /withdraw them first")
        if op == "delete":
            for order in self.store.open_orders():
                order.status = 2
                order.answer["docStatus"] = 2
                self.store.update(order)
            s.open_orders = 0
        doc = self._close_shift_doc(cx, "close_shift", C.SHIFT_UPDATE_ERROR)
        return {**doc.answer, "printError": self._print_error(req)}

    def _ep_check_shift(self, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
        s = self.state
        out = {"status": "success", "code": 0, "message": "", "isShiftOpen": "true" if s.shift_open else "false",
               "shiftID": s.shift_number, "shiftOpenAt": s.shift_opened_at if s.shift_open else "", "cash": s.cash,
               "shiftOrdersCnt": s.open_orders}
        if s.shift_open and s.shift_opened_at:
            ends = dt.datetime.strptime(s.shift_opened_at, TIME_FORMAT) + SHIFT_MAX_DURATION
            out["shiftExpiresAt"] = ends.strftime(TIME_FORMAT)
            out["shiftExpired"] = "true" if cx.now.replace(tzinfo=None) >= ends else "false"
        return out

    def _cash_doc(self, req: dict[str, Any], cx: Ctx, kind: str) -> dict[str, Any]:
        ext, idem, doc_time, number = self._identity(req)
        hit = self._replay(kind, ext, idem)
        if hit is not None:
            return self._answer_of(hit)
        amount = get_int(req, "amount", required=True, minimum=1)
        self._ensure_shift(cx)
        s = self.state
        if kind == "withdraw" and amount > s.cash:
            raise CashboxError(C.NOT_FOUND, f"not enough cash in the drawer: {s.cash} kopecks, {amount} asked")
        s.cash += amount if kind == "deposit" else -amount
        if kind == "deposit":
            s.shift_cash_in += amount
        else:
            s.shift_cash_out += amount
        s.shift_docs += 1
        doc = self._new_doc(kind, kind, cx, amount=amount, doc_time=doc_time, doc_number=number, ext_id=ext,
                            idem=idem, request=req)
        doc.answer = {"status": "success", "code": 0, "message": "", "printError": self._print_error(req),
                      "documentID": doc.id, "fiscalID": "", "docTime": doc_time or cx.ts, "printTime": cx.ts,
                      "cash": s.cash, "cashIn": s.shift_cash_in, "cashOut": s.shift_cash_out, "amount": amount,
                      "shiftID": s.shift_number}
        _echo_ext(doc.answer, req)
        s.shift_totals = reports.add(s.shift_totals, doc)
        self.store.add(doc)
        return dict(doc.answer)

    def _ep_deposit(self, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
        return self._cash_doc(req, cx, "deposit")

    def _ep_withdraw(self, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
        return self._cash_doc(req, cx, "withdraw")

    def _ep_get_info(self, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
        s, fn = self.state, self.state.fn
        return {
            "status": "success", "code": 0, "message": "", "kktSerial": s.kkt_serial, "registered": fn is not None,
            "fnNumber": fn.serial if fn else None, "kktRegNumber": fn.reg_number if fn else None,
            "fnState": fn.state(cx.now) if fn else "none", "fnFillPercent": fn.fill_percent() if fn else 0.0,
            "fnCapacity": fn.capacity if fn else 0,
            "fnExpiry": fn.expiry().strftime("%Y-%m-%d") if fn else None, "lastFdNumber": fn.last_fd if fn else 0,
            "isShiftOpen": s.shift_open, "shiftID": s.shift_number,
            "shiftOpenAt": s.shift_opened_at if s.shift_open else None, "autoShift": s.auto_shift,
            "unsentCount": fn.unsent if fn else 0,
            "oldestUnsentAt": fn.oldest_unsent.replace("T", " ") if fn and fn.oldest_unsent else None,
            "warnings": fn.warnings(cx.now) if fn else [],
            "ofdDown": fn.ofd_down if fn else False, "printerFail": s.printer_fail,
            "terminalFail": s.terminal_fail, "cash": s.cash, "timezone": s.timezone,
            "taxTable": "fixed" if s.tax_rates is not None else "ru-vat-by-date",
            "taxRates": sorted(rules.accepted_percents(cx.now.date(), False, self._rates())),
            "shiftIdType": s.shift_id_type, "fiscalIdType": s.fiscal_id_type,
        }

    def _ep_control_tape(self, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
        s = self.state
        sid = _shift_ref(req, C.SHIFT_NOT_OPEN)
        if sid == 0:
            if not s.shift_open:
                raise CashboxError(C.SHIFT_NOT_OPEN, "no shift is open; name one with shiftID")
            sid = s.shift_number
        docs = self.store.of_shift(sid)
        if not docs:
            raise CashboxError(C.SHIFT_NOT_OPEN, f"no shift {sid}")
        lines = [d.journal_line() for d in docs]
        return {"status": "success", "code": 0, "message": "", "printError": self._print_error(req),
                "shiftID": sid, "documents": lines, "count": len(lines)}

    def _ep_correction(self, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
        ext, idem, doc_time, number = self._identity(req)
        hit = self._replay("correction", ext, idem)
        if hit is not None:
            return self._answer_of(hit)
        start = rules.get_date(req, "date_start")
        stop = rules.get_date(req, "date_stop")
        if start > stop:
            raise CashboxError(C.INVALID_JSON, f"date_start {start} is after date_stop {stop}")
        source = req.get("payments") if isinstance(req.get("payments"), dict) else req
        pays = rules.parse_payments({"extraPayments": req.get("extraPayments")}, source=source)
        total = sum(pays.values())
        if total <= 0:
            raise CashboxError(C.NOT_FULLY_PAID, "a correction needs an amount of at least one payment kind "
                                                 "(cashAmount, cashlessAmount, ...)")
        if req.get("amount") is not None and get_int(req, "amount") != total:
            raise CashboxError(C.AMOUNT_MISMATCH, f"amount {req.get('amount')} differs from the payments {total}")
        vats = _parse_vat_amounts(req.get("vatAmounts"), self._rates())
        sign = rules.check_extensions(req, allowed_signs=(1, 2, 3, 4))
        ctype = get_int(req, "correctionType", maximum=1, range_code=C.INVALID_JSON)
        self._ensure_shift(cx)
        fd, fp = self._issue("correction", cx, total, sign)
        s = self.state
        s.shift_docs += 1
        s.shift_receipts += 1
        s.cash += pays["C"] if sign in (1, 4) else -pays["C"]
        doc = self._new_doc("correction", "correction", cx, amount=total, fd=fd, fp=fp, sign=sign, doc_time=doc_time,
                            doc_number=number, ext_id=ext, idem=idem, request=req)
        doc.summary = {"cat": "correction", "pay": {k: v for k, v in pays.items() if v}, "vat": vats}
        qr = build_qr(when=cx.now, total=total, fn_serial=self._fn().serial, fd=fd, fp=fp, sign=sign)
        extra = self._extra(doc, fd_type="correction", qr=qr)
        extra["correctionType"] = ctype
        s.shift_totals = reports.add(s.shift_totals, doc)
        doc.answer = {"status": "success", "code": 0, "message": "", "printError": self._print_error(req),
                      "documentID": doc.id, "fiscalID": fiscal_id(fd), "fiscalNum": str(fd),
                      "docTime": doc_time or cx.ts, "printTime": cx.ts, "docStatus": 1, **_CARD_EMPTY,
                      "totalPayments": [{"code": k, "amount": v} for k, v in pays.items() if v],
                      "date_start": str(start), "date_stop": str(stop), "shiftOrdersCnt": s.open_orders,
                      "extraParams": extra}
        _echo_ext(doc.answer, req)
        self.store.add(doc)
        return dict(doc.answer)

    def _ep_dates_report(self, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
        start = rules.get_date(req, "dateFrom" if req.get("dateFrom") not in (None, "") or
                               req.get("date_start") in (None, "") else "date_start")
        stop = rules.get_date(req, "dateFor" if req.get("dateFor") not in (None, "") or
                              req.get("date_stop") in (None, "") else "date_stop")
        if start > stop:
            raise CashboxError(C.INVALID_JSON, f"dateFrom {start} is after dateFor {stop}")
        docs = self.store.between(f"{start} 00:00:00", f"{stop} 23:59:59")
        return {"status": "success", "code": 0, "message": "", "printError": self._print_error(req),
                "dateFrom": str(start), "dateFor": str(stop),
                "shiftCount": sum(1 for d in docs if d.kind == "open_shift"), **reports.totals(docs)}


def _parse_vat_amounts(raw: Any, rates: frozenset[int] | None) -> dict[str, int]:
    """``vatAmounts[{vatPercent, vatSum}]``: malformed -> 16, a percent the register does not
    accept (any rate of the Russian table, or its fixed list) -> 12."""
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise CashboxError(C.TAX_INCORRECT, "vatAmounts must be a list of {vatPercent, vatSum}")
    out: dict[str, int] = {}
    for i, v in enumerate(raw):
        if not isinstance(v, dict):
            raise CashboxError(C.TAX_INCORRECT, f"vatAmounts[{i}] must be an object {{vatPercent, vatSum}}")
        prc = rules.as_int(v.get("vatPercent"))
        if prc is None or not 0 <= prc <= 10000:
            raise CashboxError(C.TAX_INCORRECT, f"vatAmounts[{i}].vatPercent must be an integer 0..10000, got "
                                                f"{str(v.get('vatPercent'))[:40]!r}")
        accepted = rules.accepted_percents(dt.date.min, True, rates)
        if prc not in accepted:
            raise CashboxError(C.TAX_UNACCEPTABLE, f"vatAmounts[{i}].vatPercent {prc} is not a rate this register "
                                                   f"accepts: {sorted(accepted)}")
        out[str(prc)] = out.get(str(prc), 0) + get_int(v, "vatSum", prefix=f"vatAmounts[{i}].", required=True)
    return out


def fiscal_id(fd: int | None) -> str:
    """``fiscalID`` of a fiscal document: its FD number as 12 digits ("" for none).

    A string (the protocol's type) of digits (clients that read it as an integer parse it)
    and at least 12 characters (a client takes its first 12); ``fiscalNum`` is the plain
    FD number. ``parentDocID``, ``fiscalID`` and ``prepayDocNum`` take either form."""
    return "" if fd is None else f"{fd:012d}"


def _echo_ext(answer: dict[str, Any], req: dict[str, Any]) -> None:
    """``documentExtID`` as the caller sent it (string or number); absent when not sent."""
    ext = req.get("documentExtID")
    if ext is not None and ext != "":
        answer["documentExtID"] = ext


def _shift_ref(req: dict[str, Any], code: C) -> int:
    """``shiftID`` of a report request: 0 (the current shift) when absent or empty."""
    if req.get("shiftID") == "":
        return 0
    return get_int(req, "shiftID", default=0, maximum=2**62, range_code=code)


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
