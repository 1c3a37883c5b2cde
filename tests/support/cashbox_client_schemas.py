"""The answers as point-of-sale clients declare them: strict typed schemas (msgspec Structs,
no coercion: a number where a client declares a string fails, and the reverse), one set
per combination of the types on which clients differ.

- every answer: ``status`` string, ``code`` integer, ``message`` string;
- ``documentID`` integer; ``fiscalID`` a string (Java, TypeScript, the C# client that
  takes its first 12 characters) or an integer (a C# client); ``shiftID`` an integer (C#)
  or a string (a Java client reading it with ``getString``);
- ``documentExtID`` echoed in the type the client sends (an integer in C#, a string in
  Java), absent when it sends none.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import msgspec
from msgspec import UNSET, Struct, UnsetType


@dataclass(frozen=True)
class Types:
    """The declared types of one client style."""

    fiscal_id: type = str
    shift_id: type = int
    ext_id: type = str


class Base(Struct):
    status: str
    code: int
    message: str


class Payment(Struct):
    code: str
    amount: int


class VatAmount(Struct):
    vatPercent: int
    vatAmount: int


class Extra(Struct):
    """``extraParams``: empty for a document that is not fiscal (an order, cash in or out)."""

    fnNumber: str | UnsetType = UNSET
    fdNumber: int | UnsetType = UNSET
    fiscalSign: str | UnsetType = UNSET
    shiftNumber: int | UnsetType = UNSET
    kktRegNumber: str | UnsetType = UNSET
    fiscalDocType: str | UnsetType = UNSET
    receiptNumber: int | UnsetType = UNSET
    qr: str | UnsetType = UNSET


class TapeLine(Struct):
    fd: int | None
    type: str
    amount: int
    time: str
    documentID: int
    shift: int
    docStatus: int


_REPORT = {f"{cat}{suffix}": int for cat in ("sale", "moneyBack", "purchase", "purchaseBack", "prepay", "creditPay",
                                             "correction")
           for suffix in ("Count", "Sum", "CashSum", "CashlessSum", "CreditSum", "BonusSum", "PrepaymentSum",
                          "OtherSum", "InstallmentSum", "InvoiceSum")}
_REPORT.update({f"{cat}VatAmounts": list[VatAmount] for cat in ("sale", "moneyBack", "prepay", "creditPay")})
_REPORT.update({"depositCount": int, "depositSum": int, "withdrawCount": int, "withdrawSum": int})


def _struct(name: str, fields: dict[str, Any], optional: dict[str, Any] | None = None) -> type[Struct]:
    spec: list[Any] = [("status", str), ("code", int), ("message", str)]
    spec += [(k, v) for k, v in fields.items()]
    spec += [(k, v | UnsetType, UNSET) for k, v in (optional or {}).items()]
    return msgspec.defstruct(name, spec)


@cache
def schemas(t: Types) -> dict[str, type[Struct]]:
    """The success answer's schema of each endpoint for clients declaring ``t``."""
    fiscal = {"printError": int, "documentID": int, "fiscalID": t.fiscal_id, "fiscalNum": str, "docTime": str,
              "printTime": str, "docStatus": int, "rrn": str, "auth": str, "cardNum": str, "checkNum": str,
              "totalPayments": list[Payment], "shiftOrdersCnt": int, "extraParams": Extra}
    fiscal_opt = {"documentExtID": t.ext_id, "change": int}
    report = {"printError": int, "shiftID": t.shift_id, "shiftOpenAt": str, "cash": int, "cashRest": int, **_REPORT}
    receipt = _struct("Receipt", fiscal, fiscal_opt)
    copy = _struct("Copy", {**fiscal, "items": list[dict[str, Any]], "payments": dict[str, Any], "amount": int},
                   fiscal_opt)
    out: dict[str, type[Struct]] = {name: receipt for name in ("sale", "refund", "rollback", "prepay", "creditpay",
                                                               "check_status", "last_document")}
    out["check_copy"] = copy
    out["order"] = _struct("Order", {"printError": int, "documentID": int, "fiscalID": t.fiscal_id, "docStatus": int,
                                     "amount": int, "shiftOrdersCnt": int}, {"documentExtID": t.ext_id})
    out["preorder"] = _struct("Preorder", {"printError": int, "documentID": int, "docStatus": int, "amount": int,
                                           "items": list[dict[str, Any]]})
    out["correction"] = _struct("Correction", {k: v for k, v in fiscal.items() if k != "extraParams"},
                                {"documentExtID": t.ext_id})
    out["open_shift"] = _struct("OpenShift", {"printError": int, "shiftID": t.shift_id, "fiscalShiftID": t.shift_id,
                                              "shiftOpenAt": str, "documentID": int, "fiscalID": t.fiscal_id,
                                              "cash": int, "extraParams": Extra})
    out["close_shift"] = _struct("CloseShift", {**report, "fiscalShiftID": t.shift_id, "shiftCloseAt": str,
                                                "documentID": int, "fiscalID": t.fiscal_id, "extraParams": Extra})
    out["x_report"] = _struct("XReport", {**report, "isShiftOpen": str, "cashIn": int, "cashOut": int})
    out["check_shift"] = _struct("CheckShift", {"isShiftOpen": str, "shiftID": t.shift_id, "shiftOpenAt": str,
                                                "cash": int, "shiftOrdersCnt": int})
    cash = {"printError": int, "documentID": int, "fiscalID": t.fiscal_id, "docTime": str, "printTime": str,
            "cash": int, "cashIn": int, "cashOut": int, "amount": int, "shiftID": t.shift_id}
    out["deposit"] = _struct("Deposit", cash, {"documentExtID": t.ext_id})
    out["withdraw"] = _struct("Withdraw", cash, {"documentExtID": t.ext_id})
    out["get_info"] = _struct("GetInfo", {"kktSerial": str, "registered": bool, "fnNumber": str, "kktRegNumber": str,
                                          "fnState": str, "lastFdNumber": int, "shiftID": t.shift_id, "cash": int,
                                          "taxTable": str, "taxRates": list[int], "shiftIdType": str,
                                          "fiscalIdType": str})
    out["control_tape"] = _struct("ControlTape", {"printError": int, "shiftID": t.shift_id,
                                                  "documents": list[TapeLine], "count": int})
    out["dates_report"] = _struct("DatesReport", {"printError": int, "dateFrom": str, "dateFor": str,
                                                  "shiftCount": int, **_REPORT})
    return out


def parse(endpoint: str, raw: bytes, t: Types) -> Any:
    """The answer parsed as the client would: the endpoint's schema on success, else the
    common fields (and ``code`` must then not be 0)."""
    base = msgspec.json.decode(raw, type=Base)
    assert base.status == ("success" if base.code == 0 else "error"), base
    if base.code != 0:
        assert base.message, base
        return base
    return msgspec.json.decode(raw, type=schemas(t)[endpoint])
