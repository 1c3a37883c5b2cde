"""The document rules of the Cashbox protocol, by part: field readers (``fields``), tax
entries and accepted percents (``taxes``), positions (``items``, with the one-pass reader
of plain positions in ``items_fast``), and here the list of positions, the payments, the
settlement and the extension fields.

Each check raises ``CashboxError`` with the documented code and a message naming the field
and what to fix (the codes and fields are in ``docs/cashbox.md``). Pure.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kassagate.core.codes import CashboxCode as C
from kassagate.core.limits import MAX_ITEMS, MAX_MONEY
from kassagate.core.register.fields import as_int, get_bool, get_date, get_doc_time, get_int, get_str
from kassagate.core.register.items import GROSS, NET, Item, check_amount, parse_item, vat_sums
from kassagate.core.register.items_fast import fast_item
from kassagate.core.register.model import CashboxError
from kassagate.core.register.taxes import (
    ANY_PERCENT,
    MAX_TAX_RATES,
    Tax,
    accepted_percents,
    check_tax_rates,
    line_vat,
    parse_tax_rates,
    parse_taxes,
    rates_of,
)
from kassagate.core.tables import MAX_VEND_ADDRESS, MAX_VEND_MACHINE_NUMBER, MAX_VEND_PLACE, TaxSystem

__all__ = [
    "ANY_PERCENT",
    "GROSS",
    "MAX_MONEY",
    "MAX_TAX_RATES",
    "NET",
    "PAYMENT_KINDS",
    "Item",
    "Tax",
    "accepted_percents",
    "as_int",
    "check_amount",
    "check_extensions",
    "check_tax_rates",
    "get_bool",
    "get_date",
    "get_doc_time",
    "get_int",
    "get_str",
    "line_vat",
    "net_payments",
    "parse_item",
    "parse_items",
    "parse_payments",
    "parse_tax_rates",
    "parse_taxes",
    "rates_of",
    "settle",
    "vat_sums",
]

#: Payment kinds (``totalPayments[].code``) and their field in ``payments{}``; the fiscal
#: payment form of each is in ``docs/cashbox.md`` (O, I, F: kinds that clients send beyond
#: the protocol's five).
PAYMENT_KINDS: dict[str, str] = {
    "C": "cashAmount",
    "V": "cashlessAmount",
    "K": "creditAmount",
    "B": "bonusesAmount",
    "P": "prepaymentAmount",
    "O": "otherAmount",
    "I": "installmentAmount",
    "F": "invoiceAmount",
}
_PAYMENT_FIELDS = tuple(PAYMENT_KINDS.items())
_KIND_OF_FIELD = {name: kind for kind, name in PAYMENT_KINDS.items()}


def parse_items(raw: Any, *, day: dt.date, any_rate: bool, prepay: bool = False,
                rates: frozenset[int] | None = None) -> list[Item]:
    """``items[]``: required and non-empty (3), each with itemName, itemQty, itemAmount;
    ``rates``: the register's fixed list of tax percents (None: the Russian table)."""
    if raw is None:
        raise CashboxError(C.MISSING_PARAMETER, "required parameter items is missing")
    if not isinstance(raw, list):
        raise CashboxError(C.INVALID_JSON, "items must be a list of positions")
    if not raw:
        raise CashboxError(C.MISSING_PARAMETER, "items must hold at least one position")
    if len(raw) > MAX_ITEMS:
        raise CashboxError(C.INVALID_JSON, f"items holds {len(raw)} positions, at most {MAX_ITEMS} are allowed")
    accepted = accepted_percents(day, any_rate, rates)
    default_attr = 1 if prepay else 0
    out: list[Item] = []
    for i, it in enumerate(raw):
        item = fast_item(it, i, accepted, default_attr) if it.__class__ is dict else None
        out.append(item if item is not None else parse_item(it, i, day=day, any_rate=any_rate, prepay=prepay,
                                                            rates=rates))
    return out


def parse_payments(req: dict[str, Any], *, source: dict[str, Any] | None = None) -> dict[str, int]:
    """``payments{}`` plus ``extraPayments[]``: kind -> amount (kopecks). Unknown kind -> 7."""
    pays = req.get("payments") if source is None else source
    out = dict.fromkeys(PAYMENT_KINDS, 0)
    if pays is not None:
        if not isinstance(pays, dict):
            raise CashboxError(C.INVALID_JSON, "payments must be an object {cashAmount, cashlessAmount, ...}")
        # The fields present (usually one or two), while each is a plain amount; else every
        # field in order, so that the first faulty one is the error.
        plain = True
        for name, v in pays.items():
            kind = _KIND_OF_FIELD.get(name)
            if kind is not None and v is not None:
                if v.__class__ is not int or not 0 <= v <= MAX_MONEY:
                    plain = False
                    break
                out[kind] = v
        if not plain:
            for kind, name in _PAYMENT_FIELDS:
                out[kind] = get_int(pays, name, prefix="payments.")
    extra = req.get("extraPayments")
    if extra is not None:
        if not isinstance(extra, list):
            raise CashboxError(C.INVALID_JSON, "extraPayments must be a list of {code, amount}")
        for i, e in enumerate(extra):
            if not isinstance(e, dict):
                raise CashboxError(C.INVALID_JSON, f"extraPayments[{i}] must be an object {{code, amount}}")
            code = e.get("code")
            if not isinstance(code, str) or code not in PAYMENT_KINDS:
                raise CashboxError(
                    C.PAYMENT_TYPE_UNSUPPORTED,
                    f"extraPayments[{i}].code {str(code)[:40]!r} is not a supported payment kind: "
                    f"{', '.join(PAYMENT_KINDS)}",
                )
            out[code] += get_int(e, "amount", prefix=f"extraPayments[{i}].", required=True)
        # (without extraPayments each kind holds one value of at most MAX_MONEY)
        for kind, v in out.items():
            if v > MAX_MONEY:
                raise CashboxError(C.AMOUNT_MISMATCH, f"payments of kind {kind} total {v}, more than {MAX_MONEY}")
    return out


def settle(payments: dict[str, int], amount: int) -> int:
    """Check the payments against ``amount`` (8, 11); return the change (paid in cash)."""
    paid = sum(payments.values())
    if paid < amount:
        raise CashboxError(C.NOT_FULLY_PAID, f"the payments total {paid}, less than the amount {amount}")
    non_cash = paid - payments["C"]
    if non_cash > amount:
        raise CashboxError(
            C.CHANGE_CASH_ONLY,
            f"non-cash payments total {non_cash}, more than the amount {amount}: change is given in cash only",
        )
    return paid - amount


def net_payments(payments: dict[str, int], change: int) -> dict[str, int]:
    out = dict(payments)
    out["C"] -= change
    return out


_TAX_SYSTEMS = frozenset(int(t) for t in TaxSystem)
_EXTENSIONS = frozenset({"settlementSign", "taxSystem", "vendAddress", "vendPlace", "vendMachineNumber",
                         "clientEmail"})


def check_extensions(req: dict[str, Any], *, allowed_signs: tuple[int, ...]) -> int:
    """The extension fields (``docs/cashbox.md``); returns the settlement sign (1054)."""
    if _EXTENSIONS.isdisjoint(req):
        return allowed_signs[0]
    sign = get_int(req, "settlementSign", default=allowed_signs[0], maximum=10, range_code=C.INVALID_JSON)
    if sign not in allowed_signs:
        raise CashboxError(C.INVALID_JSON, f"settlementSign must be one of {list(allowed_signs)} here, got {sign}")
    ts = req.get("taxSystem")
    if ts is not None and as_int(ts) not in _TAX_SYSTEMS:
        raise CashboxError(C.INVALID_JSON, f"taxSystem must be one of {[int(t) for t in TaxSystem]}, "
                                           f"got {str(ts)[:40]!r}")
    get_str(req, "vendAddress", max_len=MAX_VEND_ADDRESS)
    get_str(req, "vendPlace", max_len=MAX_VEND_PLACE)
    get_str(req, "vendMachineNumber", max_len=MAX_VEND_MACHINE_NUMBER)
    get_str(req, "clientEmail", max_len=256)
    return sign
