"""Documents other than receipts: ``/order`` and ``/preorder`` (an order, paid later by
``/sale``), ``/deposit`` and ``/withdraw`` (cash in and out of the drawer), ``/correction``."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from kassagate.core.codes import CashboxCode as C
from kassagate.core.qr import build_qr
from kassagate.core.register import rules
from kassagate.core.register.endpoints.common import CARD_EMPTY, echo_ext, fiscal_id
from kassagate.core.register.endpoints.shifts import ensure_shift
from kassagate.core.register.model import CashboxError, Doc
from kassagate.core.register.rules import get_int

if TYPE_CHECKING:
    from kassagate.core.register.engine import Ctx, Register


def order(reg: Register, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
    ext, idem, doc_time, number = reg.identity(req)
    hit = reg.replay("order", ext, idem)
    if hit is not None:
        return reg.answer_of(hit)
    amount = get_int(req, "amount", required=True)
    items = rules.parse_items(req.get("items"), day=cx.now.date(), any_rate=False, rates=reg.rates())
    _, reading = rules.check_amount(items, amount)
    rules.check_extensions(req, allowed_signs=(1, 3))
    ensure_shift(reg, cx)
    s = reg.state
    s.open_orders += 1
    s.shift_docs += 1
    doc = reg.new_doc("order", "order", cx, amount=amount, doc_time=doc_time, doc_number=number, ext_id=ext,
                      idem=idem, request=req)
    doc.status = 0
    doc.summary = {"reading": reading}
    doc.answer = {"status": "success", "code": 0, "message": "", "printError": 0, "documentID": doc.id,
                  "fiscalID": "", "fiscalNum": "", "docTime": doc_time or cx.ts,
                  "printTime": "", "docStatus": 0, **CARD_EMPTY, "totalPayments": [], "amount": amount,
                  "shiftOrdersCnt": s.open_orders, "extraParams": {}}
    echo_ext(doc.answer, req)
    reg.store.add(doc)
    return dict(doc.answer)


def _open_order(reg: Register, req: dict[str, Any]) -> Doc:
    doc = reg.get(reg.doc_ref(req))
    if doc.kind != "order" or doc.status != 0:
        raise CashboxError(C.NOT_FOUND, f"document {doc.id} is not an open order")
    return doc


def preorder(reg: Register, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
    found = _open_order(reg, req)
    return {"status": "success", "code": 0, "message": "", "printError": reg.print_error(req),
            "documentID": found.id, "docStatus": 0, "amount": found.amount,
            "items": found.request.get("items", []), "printTime": cx.ts}


def _cash_doc(reg: Register, req: dict[str, Any], cx: Ctx, kind: str) -> dict[str, Any]:
    ext, idem, doc_time, number = reg.identity(req)
    hit = reg.replay(kind, ext, idem)
    if hit is not None:
        return reg.answer_of(hit)
    amount = get_int(req, "amount", required=True, minimum=1)
    ensure_shift(reg, cx)
    s = reg.state
    if kind == "withdraw" and amount > s.cash:
        raise CashboxError(C.NOT_FOUND, f"not enough cash in the drawer: {s.cash} kopecks, {amount} asked")
    s.cash += amount if kind == "deposit" else -amount
    if kind == "deposit":
        s.shift_cash_in += amount
    else:
        s.shift_cash_out += amount
    s.shift_docs += 1
    doc = reg.new_doc(kind, kind, cx, amount=amount, doc_time=doc_time, doc_number=number, ext_id=ext,
                      idem=idem, request=req)
    doc.answer = {"status": "success", "code": 0, "message": "", "printError": reg.print_error(req),
                  "documentID": doc.id, "fiscalID": "", "docTime": doc_time or cx.ts, "printTime": cx.ts,
                  "cash": s.cash, "cashIn": s.shift_cash_in, "cashOut": s.shift_cash_out, "amount": amount,
                  "shiftID": s.shift_number}
    echo_ext(doc.answer, req)
    reg.count(doc)
    reg.store.add(doc)
    return dict(doc.answer)


def deposit(reg: Register, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
    return _cash_doc(reg, req, cx, "deposit")


def withdraw(reg: Register, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
    return _cash_doc(reg, req, cx, "withdraw")


def correction(reg: Register, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
    ext, idem, doc_time, number = reg.identity(req)
    hit = reg.replay("correction", ext, idem)
    if hit is not None:
        return reg.answer_of(hit)
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
    vats = _parse_vat_amounts(req.get("vatAmounts"), reg.rates())
    sign = rules.check_extensions(req, allowed_signs=(1, 2, 3, 4))
    ctype = get_int(req, "correctionType", maximum=1, range_code=C.INVALID_JSON)
    ensure_shift(reg, cx)
    fd, fp = reg.issue("correction", cx, total, sign)
    s = reg.state
    s.shift_docs += 1
    s.shift_receipts += 1
    s.cash += pays["C"] if sign in (1, 4) else -pays["C"]
    doc = reg.new_doc("correction", "correction", cx, amount=total, fd=fd, fp=fp, sign=sign, doc_time=doc_time,
                      doc_number=number, ext_id=ext, idem=idem, request=req)
    doc.summary = {"cat": "correction", "pay": {k: v for k, v in pays.items() if v}, "vat": vats}
    qr = build_qr(when=cx.now, total=total, fn_serial=reg.drive().serial, fd=fd, fp=fp, sign=sign)
    extra = reg.extra_params(doc, fd_type="correction", qr=qr)
    extra["correctionType"] = ctype
    reg.count(doc)
    doc.answer = {"status": "success", "code": 0, "message": "", "printError": reg.print_error(req),
                  "documentID": doc.id, "fiscalID": fiscal_id(fd), "fiscalNum": str(fd),
                  "docTime": doc_time or cx.ts, "printTime": cx.ts, "docStatus": 1, **CARD_EMPTY,
                  "totalPayments": [{"code": k, "amount": v} for k, v in pays.items() if v],
                  "date_start": str(start), "date_stop": str(stop), "shiftOrdersCnt": s.open_orders,
                  "extraParams": extra}
    echo_ext(doc.answer, req)
    reg.store.add(doc)
    return dict(doc.answer)


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
