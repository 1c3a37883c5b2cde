"""Document rules of the Cashbox protocol (``cashbox.md`` §4, ``docs/cashbox.md``).

Each check raises ``CashboxError`` with the documented code and a message naming the field
and what to fix. Pure.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import Any

from kassagate.core.codes import CashboxCode as C
from kassagate.core.register.model import DATE_FORMAT, CashboxError
from kassagate.core.tables import (
    AGENT_SIGNS,
    ALL_TAX_PERCENTS,
    MAX_ITEM_NAME,
    MAX_VEND_ADDRESS,
    MAX_VEND_MACHINE_NUMBER,
    MAX_VEND_PLACE,
    MEASURE_UNITS,
    PAYMENT_METHODS,
    PAYMENT_SUBJECTS,
    VAT_RATES,
    TaxSystem,
    tax_percents_valid_on,
    vat_amount,
)

#: Largest money value accepted (kopecks): 10^13 = 100 billion roubles.
MAX_MONEY = 10**13
#: Largest quantity (× 1000): one billion units.
MAX_QTY = 10**12
MAX_ITEMS = 1000

#: Payment kinds (``totalPayments[].code``) and their field in ``payments{}``.
PAYMENT_KINDS: dict[str, str] = {
    "C": "cashAmount",
    "V": "cashlessAmount",
    "K": "creditAmount",
    "B": "bonusesAmount",
    "P": "prepaymentAmount",
}


def get_int(obj: dict[str, Any], name: str, *, prefix: str = "", required: bool = False, default: int = 0,
            minimum: int | None = 0, maximum: int = MAX_MONEY, range_code: C = C.AMOUNT_MISMATCH) -> int:
    """An integer field: missing -> 3 (if required) or ``default``; not an integer -> 2;
    outside ``minimum``..``maximum`` -> ``range_code``. Integral strings are accepted."""
    v = obj.get(name)
    if v is None:
        if required:
            raise CashboxError(C.MISSING_PARAMETER, f"required parameter {prefix}{name} is missing")
        return default
    if v.__class__ is not int:
        if isinstance(v, bool) or not isinstance(v, int | str):
            raise CashboxError(C.INVALID_JSON, f"{prefix}{name} must be an integer, got {type(v).__name__}")
        if isinstance(v, str):
            s = v.strip()
            if not s.isascii() or not (s.isdigit() or (s[:1] == "-" and s[1:].isdigit())) or len(s) > 30:
                raise CashboxError(C.INVALID_JSON, f"{prefix}{name} must be an integer, got {v[:40]!r}")
            v = int(s)
    if minimum is not None and v < minimum:
        raise CashboxError(range_code, f"{prefix}{name} must be at least {minimum}, got {v}")
    if v > maximum:
        raise CashboxError(range_code, f"{prefix}{name} must be at most {maximum}, got {v}")
    return int(v)


def get_str(obj: dict[str, Any], name: str, *, prefix: str = "", required: bool = False,
            max_len: int = 256) -> str | None:
    """A text field (numbers are taken as their text): missing -> 3 (if required) or None."""
    v = obj.get(name)
    if v is None or v == "":
        if required:
            raise CashboxError(C.MISSING_PARAMETER, f"required parameter {prefix}{name} is missing")
        return None
    if v.__class__ is not str:
        if isinstance(v, bool) or not isinstance(v, str | int):
            raise CashboxError(C.INVALID_JSON, f"{prefix}{name} must be a string, got {type(v).__name__}")
        v = str(v)
    if len(v) > max_len:
        raise CashboxError(C.INVALID_JSON, f"{prefix}{name} must be at most {max_len} characters, got {len(v)}")
    return str(v)


def get_bool(obj: dict[str, Any], name: str) -> bool:
    v = obj.get(name)
    if v is None:
        return False
    if isinstance(v, bool):
        return v
    if v in (0, 1, "0", "1", "true", "false"):
        return v in (1, "1", "true")
    raise CashboxError(C.INVALID_JSON, f"{name} must be true or false")


def get_date(obj: dict[str, Any], name: str) -> dt.date:
    s = get_str(obj, name, required=True)
    try:
        return dt.datetime.strptime(str(s), DATE_FORMAT).date()
    except ValueError:
        raise CashboxError(C.INVALID_JSON, f"{name} must be a date yyyy-MM-dd, got {str(s)[:40]!r}") from None


_DOC_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def get_doc_time(obj: dict[str, Any]) -> str | None:
    s = get_str(obj, "docTime", max_len=19)
    if s is None:
        return None
    try:
        if not _DOC_TIME.fullmatch(s):
            raise ValueError(s)
        dt.datetime.fromisoformat(s)
    except ValueError:
        raise CashboxError(C.INVALID_JSON, f"docTime must be yyyy-MM-dd HH:mm:ss, got {s!r}") from None
    return s


@dataclass(frozen=True, slots=True)
class Tax:
    percent: int  # × 100
    calc_type: int
    code: int | None  # 1199


@dataclass(frozen=True, slots=True)
class Item:
    index: int
    item_id: str | None
    name: str
    code: str | None
    qty: int  # × 1000
    amount: int
    discount: int
    taxes: tuple[Tax, ...]
    attr: int

    @property
    def net(self) -> int:
        return self.amount - self.discount

    def matches(self, other: Item) -> bool:
        """Whether ``other`` (an item of a refund or sale) names this item."""
        if other.item_id is not None and self.item_id is not None:
            return other.item_id == self.item_id
        return other.name == self.name and (other.code is None or other.code == self.code)


@functools.lru_cache(maxsize=64)
def _valid_percents(day: dt.date) -> frozenset[int]:
    return tax_percents_valid_on(day)


def parse_taxes(raw: Any, prefix: str, *, day: dt.date, any_rate: bool) -> tuple[Tax, ...]:
    """``itemTaxes``: malformed -> 16; a percent the register does not accept -> 12.

    A sale accepts the percents valid on ``day``; returns and corrections (``any_rate``)
    any percent of the table (the rate of the original settlement)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise CashboxError(C.TAX_INCORRECT, f"{prefix}itemTaxes must be a list of tax entries")
    out: list[Tax] = []
    for j, t in enumerate(raw):
        p = f"{prefix}itemTaxes[{j}]."
        if not isinstance(t, dict):
            raise CashboxError(C.TAX_INCORRECT, f"{p[:-1]} must be an object {{taxPrc, calcType, taxCode}}")
        prc = t.get("taxPrc")
        if isinstance(prc, bool) or not isinstance(prc, int) or not 0 <= prc <= 10000:
            raise CashboxError(C.TAX_INCORRECT, f"{p}taxPrc must be an integer 0..10000 (percent × 100), got {prc!r}")
        calc = t.get("calcType", 1)
        if isinstance(calc, bool) or calc not in (1, 2, 3):
            raise CashboxError(C.TAX_INCORRECT, f"{p}calcType must be 1 (in price), 2 (fixed) or 3 (simplified)")
        code = t.get("taxCode")
        if code is not None:
            if isinstance(code, bool) or not isinstance(code, int) or code not in VAT_RATES:
                raise CashboxError(C.TAX_INCORRECT, f"{p}taxCode must be a VAT code 1..12 (tag 1199), got {code!r}")
            rate = VAT_RATES[code]
            if (rate.percent_x100 or 0) != prc:
                raise CashboxError(
                    C.TAX_INCORRECT, f"{p}taxPrc {prc} does not match taxCode {code} ({rate.name})"
                )
            if not any_rate and not rate.valid_on(day):
                raise CashboxError(
                    C.TAX_UNACCEPTABLE,
                    f"{p}taxCode {code} ({rate.name}) is not valid for a settlement on {day}: "
                    f"{rate.describe_validity()}",
                )
        elif prc != 0:
            accepted = ALL_TAX_PERCENTS if any_rate else _valid_percents(day)
            if prc not in accepted:
                raise CashboxError(
                    C.TAX_UNACCEPTABLE,
                    f"{p}taxPrc {prc} is not a tax percent this register accepts on {day}: "
                    f"{sorted(accepted | {0})}",
                )
        out.append(Tax(prc, calc, code))
    return tuple(out)


def _check_enum(item: dict[str, Any], name: str, allowed: Any, prefix: str) -> None:
    v = item.get(name)
    if v is None:
        return
    if isinstance(v, bool) or not isinstance(v, int) or v not in allowed:
        raise CashboxError(C.INVALID_JSON, f"{prefix}{name} has no allowed value {v!r}: allowed {sorted(allowed)}")


def parse_items(raw: Any, *, day: dt.date, any_rate: bool, prepay: bool = False) -> list[Item]:
    """``items[]``: required and non-empty (3), each with itemName, itemQty, itemAmount."""
    if raw is None:
        raise CashboxError(C.MISSING_PARAMETER, "required parameter items is missing")
    if not isinstance(raw, list):
        raise CashboxError(C.INVALID_JSON, "items must be a list of positions")
    if not raw:
        raise CashboxError(C.MISSING_PARAMETER, "items must hold at least one position")
    if len(raw) > MAX_ITEMS:
        raise CashboxError(C.INVALID_JSON, f"items holds {len(raw)} positions, at most {MAX_ITEMS} are allowed")
    out: list[Item] = []
    for i, it in enumerate(raw):
        p = f"items[{i}]."
        if not isinstance(it, dict):
            raise CashboxError(C.INVALID_JSON, f"items[{i}] must be an object")
        name = get_str(it, "itemName", prefix=p, required=True, max_len=MAX_ITEM_NAME)
        qty = get_int(it, "itemQty", prefix=p, required=True, minimum=1, maximum=MAX_QTY)
        amount = get_int(it, "itemAmount", prefix=p, required=True)
        discount = get_int(it, "discount", prefix=p)
        if it.get("discount") is None and it.get("discountPrc") is not None:
            prc = get_int(it, "discountPrc", prefix=p, maximum=10000)
            discount = (amount * prc + 5000) // 10000
        if discount > amount:
            raise CashboxError(C.AMOUNT_MISMATCH, f"{p}discount {discount} exceeds itemAmount {amount}")
        attr = get_int(it, "itemAttr", prefix=p, default=1 if prepay else 0, maximum=100,
                       range_code=C.INVALID_JSON)
        if prepay and attr != 1:
            raise CashboxError(C.INVALID_JSON, f"{p}itemAttr must be 1 (prepayment) on /prepay, got {attr}")
        _check_enum(it, "paymentMethod", PAYMENT_METHODS.keys(), p)
        _check_enum(it, "paymentSubject", PAYMENT_SUBJECTS, p)
        _check_enum(it, "agentSign", AGENT_SIGNS, p)
        _check_enum(it, "measureUnit", MEASURE_UNITS, p)
        taxes = parse_taxes(it.get("itemTaxes"), p, day=day, any_rate=any_rate)
        out.append(Item(i, get_str(it, "itemId", prefix=p, max_len=128), str(name),
                        get_str(it, "itemCode", prefix=p, max_len=128), qty, amount, discount, taxes, attr))
    return out


def check_amount(items: list[Item], amount: int) -> None:
    """``amount`` = Σ (itemAmount − discount), else 4."""
    total = sum(i.net for i in items)
    if total != amount:
        raise CashboxError(C.AMOUNT_MISMATCH, f"amount {amount} differs from the sum of the positions {total}")


def parse_payments(req: dict[str, Any], *, source: dict[str, Any] | None = None) -> dict[str, int]:
    """``payments{}`` plus ``extraPayments[]``: kind -> amount (kopecks). Unknown kind -> 7."""
    pays = req.get("payments") if source is None else source
    out = dict.fromkeys(PAYMENT_KINDS, 0)
    if pays is not None:
        if not isinstance(pays, dict):
            raise CashboxError(C.INVALID_JSON, "payments must be an object {cashAmount, cashlessAmount, ...}")
        for kind, name in PAYMENT_KINDS.items():
            out[kind] += get_int(pays, name, prefix="payments.")
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
                    f"extraPayments[{i}].code {code!r} is not a supported payment kind: C, V, K, B or P",
                )
            out[code] += get_int(e, "amount", prefix=f"extraPayments[{i}].", required=True)
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


def vat_sums(items: list[Item]) -> dict[str, int]:
    """VAT by tax percent (× 100, as a string key) of the positions."""
    out: dict[str, int] = {}
    for it in items:
        for t in it.taxes:
            rate = VAT_RATES[t.code] if t.code is not None else _rate_for(t.percent)
            out[str(t.percent)] = out.get(str(t.percent), 0) + (vat_amount(it.net, rate) if rate else 0)
    return out


#: A VAT row for each tax percent (the first row of the table with that rate).
_RATE_BY_PERCENT: dict[int, Any] = {}
for _r in VAT_RATES.values():
    _RATE_BY_PERCENT.setdefault(_r.percent_x100 or 0, _r)


def _rate_for(percent: int) -> Any:
    return _RATE_BY_PERCENT.get(percent)


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
    if ts is not None and (isinstance(ts, bool) or not isinstance(ts, int) or ts not in _TAX_SYSTEMS):
        raise CashboxError(C.INVALID_JSON, f"taxSystem must be one of {[int(t) for t in TaxSystem]}, got {ts!r}")
    get_str(req, "vendAddress", max_len=MAX_VEND_ADDRESS)
    get_str(req, "vendPlace", max_len=MAX_VEND_PLACE)
    get_str(req, "vendMachineNumber", max_len=MAX_VEND_MACHINE_NUMBER)
    get_str(req, "clientEmail", max_len=256)
    return sign
