"""Shifts: ``/open_shift``, ``/close_shift``, ``/check_shift``, and the shift a document
needs (opened, or rotated before 24 hours, in cloud mode)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from kassagate.core.codes import CashboxCode as C
from kassagate.core.register import reports
from kassagate.core.register.clock import TIME_FORMAT
from kassagate.core.register.endpoints.common import fiscal_id, shift_ref
from kassagate.core.register.model import CashboxError, Doc
from kassagate.core.tables import SHIFT_MAX_DURATION

if TYPE_CHECKING:
    from kassagate.core.register.engine import Ctx, Register

#: Cloud mode closes and reopens a shift this long before it reaches 24 hours.
ROTATE_MARGIN = dt.timedelta(minutes=5)

_ROTATE_AT = SHIFT_MAX_DURATION - ROTATE_MARGIN


def ensure_shift(reg: Register, cx: Ctx) -> None:
    """A document needs an open shift of under 24 hours. Cloud mode opens one, or
    closes and reopens one about to reach 24 hours; device mode answers 6 or 22."""
    s = reg.state
    if s.shift_open:
        age = s.shift_age(cx.now)
        if s.auto_shift and age >= _ROTATE_AT:
            close_shift_doc(reg, cx, "auto", C.INTERNAL)
            open_shift_doc(reg, cx, "auto", C.INTERNAL)
        elif not s.auto_shift and age >= SHIFT_MAX_DURATION:
            raise CashboxError(C.SHIFT_EXPIRED, f"shift {s.shift_number} opened at {s.shift_opened_at} has lasted "
                                                "24 hours or more: close it (/close_shift) and open a new one")
        return
    if not s.auto_shift:
        raise CashboxError(C.SHIFT_NOT_OPEN, "no shift is open: open one with /open_shift first")
    open_shift_doc(reg, cx, "auto", C.INTERNAL)


def open_shift_doc(reg: Register, cx: Ctx, origin: str, code: C) -> Doc:
    s = reg.state
    fd, fp = reg.issue("open_shift", cx, code=code)
    s.shift_number += 1
    s.shift_open = True
    s.shift_opened_at = cx.ts
    s.shift_docs = s.shift_receipts = s.shift_cash_in = s.shift_cash_out = 0
    s.shift_start_cash = s.cash
    s.shift_totals = {}
    doc = reg.new_doc("open_shift", origin, cx, fd=fd, fp=fp)
    doc.answer = {
        "status": "success", "code": 0, "message": "", "printError": reg.print_error(),
        "shiftID": s.shift_number, "fiscalShiftID": s.shift_number, "shiftOpenAt": cx.ts,
        "documentID": doc.id, "fiscalID": fiscal_id(fd), "fiscalNum": str(fd), "cash": s.cash,
        "extraParams": reg.extra_params(doc, fd_type="open_shift"),
    }
    reg.store.count(doc)  # the day's shift count
    reg.store.add(doc)
    return doc


def close_shift_doc(reg: Register, cx: Ctx, origin: str, code: C) -> Doc:
    """The Z report: it keeps the shift's totals (a closed shift's X report reads them)."""
    s = reg.state
    sums = reports.render(s.shift_totals)
    fd, fp = reg.issue("close_shift", cx, code=code)
    doc = reg.new_doc("close_shift", origin, cx, fd=fd, fp=fp)
    doc.summary = {"cash": s.cash, "cashRest": s.shift_start_cash, "openedAt": s.shift_opened_at,
                   "cashIn": s.shift_cash_in, "cashOut": s.shift_cash_out, "totals": sums}
    doc.answer = {
        "status": "success", "code": 0, "message": "", "printError": reg.print_error(),
        "shiftID": s.shift_number, "fiscalShiftID": s.shift_number, "shiftOpenAt": s.shift_opened_at,
        "shiftCloseAt": cx.ts, "documentID": doc.id, "fiscalID": fiscal_id(fd), "fiscalNum": str(fd),
        "cash": s.cash, "cashRest": s.shift_start_cash, **sums,
        "extraParams": reg.extra_params(doc, fd_type="close_shift"),
    }
    reg.store.add(doc)
    s.shift_open = False
    return doc


def open_shift(reg: Register, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
    if reg.state.shift_open:
        raise CashboxError(C.SHIFT_NOT_OPEN, f"shift {reg.state.shift_number} is already open "
                                             f"(since {reg.state.shift_opened_at})")
    return dict(open_shift_doc(reg, cx, "open_shift", C.SHIFT_UPDATE_ERROR).answer)


def close_shift(reg: Register, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
    s = reg.state
    if not s.shift_open:
        raise CashboxError(C.SHIFT_NOT_OPEN, "no shift is open")
    sid = shift_ref(req, C.SHIFT_UPDATE_ERROR_2)
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
        for order in reg.store.open_orders():
            order.status = 2
            order.answer["docStatus"] = 2
            reg.store.update(order)
        s.open_orders = 0
    doc = close_shift_doc(reg, cx, "close_shift", C.SHIFT_UPDATE_ERROR)
    return {**doc.answer, "printError": reg.print_error(req)}


def check_shift(reg: Register, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
    s = reg.state
    out = {"status": "success", "code": 0, "message": "", "isShiftOpen": "true" if s.shift_open else "false",
           "shiftID": s.shift_number, "shiftOpenAt": s.shift_opened_at if s.shift_open else "", "cash": s.cash,
           "shiftOrdersCnt": s.open_orders}
    if s.shift_open and s.shift_opened_at:
        ends = dt.datetime.strptime(s.shift_opened_at, TIME_FORMAT) + SHIFT_MAX_DURATION
        out["shiftExpiresAt"] = ends.strftime(TIME_FORMAT)
        out["shiftExpired"] = "true" if cx.now.replace(tzinfo=None) >= ends else "false"
    return out
