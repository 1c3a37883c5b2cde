"""Questions about documents and the register, which change nothing: ``/check_status``,
``/check_copy``, ``/last_document``, ``/get_info``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kassagate.core.codes import CashboxCode as C
from kassagate.core.register import rules
from kassagate.core.register.model import CashboxError, Doc
from kassagate.core.register.rules import get_int, get_str

if TYPE_CHECKING:
    from kassagate.core.register.engine import Ctx, Register


def check_status(reg: Register, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
    return reg.answer_of(_lookup(reg, req))


def _lookup(reg: Register, req: dict[str, Any]) -> Doc:
    if req.get("documentID") not in (None, ""):
        return reg.get(reg.doc_ref(req))
    ext = get_str(req, "documentExtID", max_len=128)
    if ext is not None:
        doc = reg.store.find(None, ext_id=ext)
        if doc is None:
            raise CashboxError(C.NOT_FOUND, f"no document with documentExtID {ext!r}")
        return doc
    if req.get("fiscalID") not in (None, ""):
        fd = get_int(req, "fiscalID", minimum=1, maximum=2**62, range_code=C.NOT_FOUND)
        doc = reg.store.by_fd(fd)
        if doc is None:
            raise CashboxError(C.NOT_FOUND, f"no document with fiscalID {fd}")
        return doc
    raise CashboxError(C.MISSING_PARAMETER, "required parameter documentID (or documentExtID, fiscalID) is missing")


def check_copy(reg: Register, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
    doc = reg.get(reg.doc_ref(req))
    out = reg.answer_of(doc)
    out["printError"] = reg.print_error(req)
    out["items"] = doc.request.get("items", [])
    out["payments"] = doc.request.get("payments", {})
    out["extraPayments"] = doc.request.get("extraPayments", [])
    out["amount"] = doc.amount
    out["copy"] = True
    return out


def last_document(reg: Register, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
    ext, idem, doc_time, _ = reg.identity(req)
    if ext is not None or doc_time is not None:
        if doc_time is not None and (req.get("docNumber") in (None, "") or req.get("amount") is None):
            raise CashboxError(C.MISSING_PARAMETER, "docTime needs docNumber and amount to identify a document")
        doc = reg.replay(None, ext, idem)
        if doc is None:
            raise CashboxError(C.NOT_FOUND, "no document with this documentExtID or docTime + docNumber + amount")
        return reg.answer_of(doc)
    doc = reg.store.last()
    if doc is None:
        raise CashboxError(C.NOT_FOUND, "the register has no document yet")
    return reg.answer_of(doc)


def get_info(reg: Register, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
    s, fn = reg.state, reg.state.fn
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
        "taxRates": sorted(rules.accepted_percents(cx.now.date(), False, reg.rates())),
        "shiftIdType": s.shift_id_type, "fiscalIdType": s.fiscal_id_type,
    }
