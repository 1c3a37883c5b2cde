"""Reports: ``/x_report`` (a shift's totals), ``/control_tape`` (a shift's documents),
``/dates_report`` (the totals of a range of days).

Neither report reads the documents it sums: the open shift's totals are kept in the
register state, a closed shift's in its Z report, each day's in the store (counted as
each document is written, in the same transaction: ``Register.count``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kassagate.core.codes import CashboxCode as C
from kassagate.core.register import reports, rules
from kassagate.core.register.endpoints.common import shift_ref
from kassagate.core.register.model import CashboxError

if TYPE_CHECKING:
    from kassagate.core.register.engine import Ctx, Register


def x_report(reg: Register, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
    s = reg.state
    sid = shift_ref(req, C.SHIFT_NOT_OPEN)
    base = {"status": "success", "code": 0, "message": "", "printError": reg.print_error(req)}
    if sid in (0, s.shift_number) and s.shift_open:
        return {**base, "shiftID": s.shift_number, "shiftOpenAt": s.shift_opened_at, "isShiftOpen": "true",
                "cash": s.cash, "cashRest": s.shift_start_cash, "cashIn": s.shift_cash_in,
                "cashOut": s.shift_cash_out, **reports.render(s.shift_totals)}
    if sid == 0:
        raise CashboxError(C.SHIFT_NOT_OPEN, "no shift is open; name a closed one with shiftID")
    close = reg.store.close_report(sid)
    if close is None:
        raise CashboxError(C.SHIFT_NOT_OPEN, f"no shift {sid}")
    return {**base, "shiftID": sid, "shiftOpenAt": close.summary.get("openedAt"), "isShiftOpen": "false",
            "shiftCloseAt": close.time, "cash": close.summary.get("cash", 0),
            "cashRest": close.summary.get("cashRest", 0), "cashIn": close.summary.get("cashIn", 0),
            "cashOut": close.summary.get("cashOut", 0), **close.summary.get("totals", {})}


def control_tape(reg: Register, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
    s = reg.state
    sid = shift_ref(req, C.SHIFT_NOT_OPEN)
    if sid == 0:
        if not s.shift_open:
            raise CashboxError(C.SHIFT_NOT_OPEN, "no shift is open; name one with shiftID")
        sid = s.shift_number
    docs = reg.store.of_shift(sid)
    if not docs:
        raise CashboxError(C.SHIFT_NOT_OPEN, f"no shift {sid}")
    lines = [d.journal_line() for d in docs]
    return {"status": "success", "code": 0, "message": "", "printError": reg.print_error(req),
            "shiftID": sid, "documents": lines, "count": len(lines)}


def dates_report(reg: Register, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
    start = rules.get_date(req, "dateFrom" if req.get("dateFrom") not in (None, "") or
                           req.get("date_start") in (None, "") else "date_start")
    stop = rules.get_date(req, "dateFor" if req.get("dateFor") not in (None, "") or
                          req.get("date_stop") in (None, "") else "date_stop")
    if start > stop:
        raise CashboxError(C.INVALID_JSON, f"dateFrom {start} is after dateFor {stop}")
    kept = reg.store.day_totals(str(start), str(stop))
    return {"status": "success", "code": 0, "message": "", "printError": reg.print_error(req),
            "dateFrom": str(start), "dateFor": str(stop),
            "shiftCount": kept.get(reports.SHIFT_COUNT, 0), **reports.render(kept)}
