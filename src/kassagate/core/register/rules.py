"""Document rules of the Cashbox protocol (``cashbox.md`` §4, ``docs/cashbox.md``).

Each check raises ``CashboxError`` with the documented code and a message naming the field
and what to fix. Pure.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from decimal import Decimal
from typing import Any, NamedTuple

from kassagate.core.codes import CashboxCode as C
from kassagate.core.limits import MAX_ITEMS, MAX_MONEY, MAX_QTY
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
)

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
    if v.__class__ is str and 0 < len(v) <= max_len:
        return v
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
    s = obj.get("docTime")
    if s.__class__ is not str or not 0 < len(s) <= 19:
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


class Tax(NamedTuple):
    percent: int  # × 100
    calc_type: int
    code: int | None  # 1199


class Item(NamedTuple):
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
    return tax_percents_valid_on(day) | {0}


_ALL_PERCENTS = ALL_TAX_PERCENTS | {0}


def accepted_percents(day: dt.date, any_rate: bool, rates: frozenset[int] | None) -> frozenset[int]:
    """The tax percents (× 100) a register accepts: its fixed list ``rates`` when it has
    one, else the Russian VAT table: the rates valid on ``day``, or for a return or
    correction (``any_rate``) every rate of the table."""
    if rates is not None:
        return rates
    return _ALL_PERCENTS if any_rate else _valid_percents(day)


#: Every percent 0..10000: the positions of a document already fiscalized are read back
#: with this (a register's accepted rates may have changed since).
ANY_PERCENT: frozenset[int] = frozenset(range(10001))
#: At most this many percents in a register's fixed list.
MAX_TAX_RATES = 32


def check_tax_rates(values: list[int]) -> list[int]:
    """A register's fixed list of tax percents (× 100), sorted; ValueError says what is wrong."""
    if not values:
        raise ValueError("the tax rate list is empty: give percents × 100 such as 1800,800,0")
    if len(values) > MAX_TAX_RATES:
        raise ValueError(f"at most {MAX_TAX_RATES} tax rates, got {len(values)}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 10000:
            raise ValueError(f"a tax rate is a percent × 100, an integer 0..10000 (18 % is 1800), got {v!r}")
    return sorted(set(values))


def parse_tax_rates(text: str) -> list[int] | None:
    """``--tax-rates``: ``ru`` (the Russian VAT table by date: None) or a list such as
    ``1800,800,200,0``."""
    t = text.strip()
    if t.lower() == "ru":
        return None
    out: list[int] = []
    for part in t.split(","):
        v = as_int(part)
        if v is None:
            raise ValueError(f"--tax-rates takes ru or percents × 100 separated by commas (1800,800,0), "
                             f"not {part.strip()[:20]!r}")
        out.append(v)
    return check_tax_rates(out)


@functools.lru_cache(maxsize=16)
def rates_of(setting: tuple[int, ...] | None) -> frozenset[int] | None:
    """The accepted percents of a register's ``tax_rates`` setting (None: the Russian table)."""
    return None if setting is None else frozenset(setting)


def as_int(v: Any) -> int | None:
    """``v`` as an integer when it is one or a string of digits (optionally signed), else None."""
    if v.__class__ is int:
        return int(v)
    if isinstance(v, str):
        s = v.strip()
        if s.isascii() and 0 < len(s) <= 30 and (s.isdigit() or (s[:1] == "-" and s[1:].isdigit())):
            return int(s)
    return None


_RATE_TEXT = re.compile(r"\d{1,3}(\.\d{1,12})?")


def _percent_of_rate(v: Any, p: str) -> int:
    """``taxRate`` (percent as a number: 18, 18.0, "18", "12.5") -> percent × 100."""
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise CashboxError(C.TAX_INCORRECT, f"{p}taxRate must be a percent (a number such as 18 or 12.5), "
                                            f"got {type(v).__name__}")
    text = v.strip() if isinstance(v, str) else repr(v)
    if isinstance(v, str) and not _RATE_TEXT.fullmatch(text):
        raise CashboxError(C.TAX_INCORRECT, f"{p}taxRate must be a percent such as 18 or 12.5, got {v[:40]!r}")
    try:
        x100 = Decimal(text) * 100
    except ArithmeticError:
        raise CashboxError(C.TAX_INCORRECT, f"{p}taxRate must be a percent, got {text[:40]}") from None
    if not x100.is_finite() or x100 != x100.to_integral_value() or not 0 <= x100 <= 10000:
        raise CashboxError(C.TAX_INCORRECT, f"{p}taxRate must be a percent 0..100 with at most two decimals, "
                                            f"got {text[:40]}")
    return int(x100)


def _tax_percent(t: dict[str, Any], p: str) -> int | None:
    """The entry's percent × 100 from ``taxPrc`` and/or ``taxRate``; None when it has neither."""
    out: int | None = None
    prc = t.get("taxPrc")
    if prc is not None and prc != "":
        out = as_int(prc)
        if out is None or not 0 <= out <= 10000:
            raise CashboxError(C.TAX_INCORRECT, f"{p}taxPrc must be an integer 0..10000 (percent × 100), "
                                                f"got {str(prc)[:40]!r}")
    rate = t.get("taxRate")
    if rate is not None and rate != "":
        from_rate = _percent_of_rate(rate, p)
        if out is not None and out != from_rate:
            raise CashboxError(C.TAX_INCORRECT, f"{p}taxPrc {out} and taxRate {rate} disagree "
                                                "(taxPrc is the percent × 100)")
        out = from_rate
    return out


def _unaccepted(prc: int, p: str, day: dt.date, any_rate: bool, rates: frozenset[int] | None) -> CashboxError:
    accepted = sorted(accepted_percents(day, any_rate, rates))
    if rates is not None:
        return CashboxError(C.TAX_UNACCEPTABLE, f"{p}tax percent {prc} is not one this register is configured "
                                                f"for: {accepted}")
    rows = "; ".join(f"{r.name} {r.describe_validity()}" for r in VAT_RATES.values() if r.percent_x100 == prc)
    return CashboxError(C.TAX_UNACCEPTABLE, f"{p}tax percent {prc} is not a VAT rate this register accepts for a "
                                            f"settlement on {day}{f' ({rows})' if rows else ''}: {accepted}")


def parse_taxes(raw: Any, prefix: str, *, day: dt.date, any_rate: bool,
                rates: frozenset[int] | None = None) -> tuple[Tax, ...]:
    """``itemTaxes``: malformed -> 16; a percent the register does not accept -> 12.

    An entry's percent is ``taxPrc`` (× 100) or ``taxRate`` (a percent); an entry with
    neither is "without VAT" (as no entry). ``taxCode`` is the register's tax group label:
    never checked. The extension ``vatCode`` (tag 1199) names the exact Russian VAT row.
    A register with a fixed list (``rates``) accepts its percents; else a sale accepts the
    Russian rates valid on ``day``, returns and corrections (``any_rate``) any rate of the
    table (the rate of the original settlement)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise CashboxError(C.TAX_INCORRECT, f"{prefix}itemTaxes must be a list of tax entries")
    accepted = accepted_percents(day, any_rate, rates)
    out: list[Tax] = []
    for j, t in enumerate(raw):
        p = f"{prefix}itemTaxes[{j}]."
        if not isinstance(t, dict):
            raise CashboxError(C.TAX_INCORRECT, f"{p[:-1]} must be an object {{taxPrc or taxRate, calcType, "
                                                "taxCode}")
        prc = _tax_percent(t, p)
        calc_raw = t.get("calcType")
        calc = 1 if calc_raw is None or calc_raw == "" else as_int(calc_raw)
        if calc not in (1, 2, 3):
            raise CashboxError(C.TAX_INCORRECT, f"{p}calcType must be 1 (in price), 2 (fixed) or 3 (simplified)")
        code_raw = t.get("vatCode")
        code: int | None = None
        if code_raw is not None and code_raw != "":
            code = as_int(code_raw)
            if code is None or code not in VAT_RATES:
                raise CashboxError(C.TAX_INCORRECT, f"{p}vatCode must be a VAT code 1..12 (tag 1199), "
                                                    f"got {str(code_raw)[:40]!r}")
            rate = VAT_RATES[code]
            if prc is None:
                prc = rate.percent_x100 or 0
            elif (rate.percent_x100 or 0) != prc:
                raise CashboxError(C.TAX_INCORRECT, f"{p}tax percent {prc} does not match vatCode {code} "
                                                    f"({rate.name})")
            if rates is None and not any_rate and not rate.valid_on(day):
                raise CashboxError(
                    C.TAX_UNACCEPTABLE,
                    f"{p}vatCode {code} ({rate.name}) is not valid for a settlement on {day}: "
                    f"{rate.describe_validity()}",
                )
        elif prc is None:
            continue  # without VAT
        if prc not in accepted:
            raise _unaccepted(prc, p, day, any_rate, rates)
        out.append(Tax(prc, calc, code))
    return tuple(out)


_ITEM_ENUMS: tuple[tuple[str, Any], ...] = (
    ("paymentMethod", frozenset(PAYMENT_METHODS)),
    ("paymentSubject", PAYMENT_SUBJECTS),
    ("agentSign", AGENT_SIGNS),
    ("measureUnit", MEASURE_UNITS),
)


#: The optional fields of a position (``_fast_item`` skips them all when none is there).
_ITEM_OPTIONAL = frozenset({"discount", "discountPrc", "itemAttr", "itemId", "itemCode",
                            *(name for name, _ in _ITEM_ENUMS)})


def _check_enum(item: dict[str, Any], name: str, allowed: Any, prefix: str) -> None:
    v = item.get(name)
    if v is None:
        return
    if as_int(v) not in allowed:
        raise CashboxError(C.INVALID_JSON, f"{prefix}{name} has no allowed value {str(v)[:40]!r}: allowed "
                                           f"{sorted(allowed)}")


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
        item = _fast_item(it, i, accepted, default_attr) if it.__class__ is dict else None
        out.append(item if item is not None else parse_item(it, i, day=day, any_rate=any_rate, prepay=prepay,
                                                            rates=rates))
    return out


def _fast_item(it: dict[str, Any], i: int, accepted: frozenset[int], default_attr: int) -> Item | None:
    """The ``Item`` of a plainly valid position (plain JSON types, every value in range),
    else None: ``parse_item`` then checks it field by field and says what is wrong. Both
    give the same ``Item`` for every position this one accepts."""
    name = it.get("itemName")
    if name.__class__ is not str or not 0 < len(name) <= MAX_ITEM_NAME:
        return None
    qty = it.get("itemQty")
    if qty.__class__ is not int or not 1 <= qty <= MAX_QTY:
        return None
    amount = it.get("itemAmount")
    if amount.__class__ is not int or not 0 <= amount <= MAX_MONEY:
        return None
    if _ITEM_OPTIONAL.isdisjoint(it):  # none of the optional fields: their defaults
        discount, attr, item_id, code_ = 0, default_attr, None, None
    else:
        discount = it.get("discount")
        if discount is None:
            if it.get("discountPrc") is not None:
                return None
            discount = 0
        elif discount.__class__ is not int or not 0 <= discount <= MAX_MONEY:
            return None
        attr = it.get("itemAttr")
        if attr is None:
            attr = default_attr
        elif attr.__class__ is not int or not 0 <= attr <= 100:
            return None
        if default_attr and attr != 1:
            return None
        for field, allowed in _ITEM_ENUMS:
            v = it.get(field)
            if v is not None and (v.__class__ is not int or v not in allowed):
                return None
        item_id = it.get("itemId")
        if item_id is not None and (item_id.__class__ is not str or not 0 < len(item_id) <= 128):
            return None
        code_ = it.get("itemCode")
        if code_ is not None and (code_.__class__ is not str or not 0 < len(code_) <= 128):
            return None
    raw_taxes = it.get("itemTaxes")
    taxes: tuple[Tax, ...] = ()
    if raw_taxes is not None:
        if raw_taxes.__class__ is not list:
            return None
        tax_list: list[Tax] = []
        for t in raw_taxes:
            if t.__class__ is not dict:
                return None
            prc = t.get("taxPrc")
            if prc.__class__ is not int or prc not in accepted:  # (accepted: integers 0..10000)
                return None
            calc = t.get("calcType", 1)
            if calc.__class__ is not int or calc not in (1, 2, 3) or "vatCode" in t or "taxRate" in t:
                return None
            tax_list.append(Tax(prc, calc, None))
        taxes = tuple(tax_list)
    return Item(i, item_id, name, code_, qty, amount, discount, taxes, attr)


def parse_item(it: Any, i: int, *, day: dt.date, any_rate: bool, prepay: bool = False,
               rates: frozenset[int] | None = None) -> Item:
    """One position ``items[i]``, checked field by field in order: the first fault is the
    error (its code and a message naming the field)."""
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
    attr = get_int(it, "itemAttr", prefix=p, default=1 if prepay else 0, maximum=100,
                   range_code=C.INVALID_JSON)
    if prepay and attr != 1:
        raise CashboxError(C.INVALID_JSON, f"{p}itemAttr must be 1 (prepayment) on /prepay, got {attr}")
    for field, allowed in _ITEM_ENUMS:
        _check_enum(it, field, allowed, p)
    taxes = parse_taxes(it.get("itemTaxes"), p, day=day, any_rate=any_rate, rates=rates)
    return Item(i, get_str(it, "itemId", prefix=p, max_len=128), str(name),
                get_str(it, "itemCode", prefix=p, max_len=128), qty, amount, discount, taxes, attr)


#: How ``itemAmount`` was read (the journal line's ``itemAmountReading``).
GROSS, NET = "gross", "net"


def check_amount(items: list[Item], amount: int) -> tuple[list[Item], str]:
    """The positions as the document reads them, and the reading (else 4).

    ``gross``: ``itemAmount`` is the line before its discount, ``amount`` = Σ (itemAmount −
    discount) (the protocol's reading; each discount at most its itemAmount). ``net``:
    ``itemAmount`` is the amount to pay for the line, its discount already taken off,
    ``amount`` = Σ itemAmount; the positions are returned with ``amount`` = itemAmount +
    discount, so that every later rule sees the line before discount."""
    gross = discounts = 0
    for i in items:
        gross += i.amount
        discounts += i.discount
    if gross - discounts == amount:
        for i in items:
            if i.discount > i.amount:
                raise CashboxError(C.AMOUNT_MISMATCH, f"items[{i.index}].discount {i.discount} exceeds itemAmount "
                                                      f"{i.amount}")
        return items, GROSS
    if discounts and gross == amount:
        return [i._replace(amount=i.amount + i.discount) for i in items], NET
    if not discounts:
        raise CashboxError(C.AMOUNT_MISMATCH, f"amount {amount} differs from the sum of the positions {gross}")
    raise CashboxError(C.AMOUNT_MISMATCH, f"amount {amount} differs from the sum of the positions: "
                                          f"{gross - discounts} with itemAmount before discount (Σ itemAmount − "
                                          f"discount), {gross} with itemAmount after discount (Σ itemAmount)")


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


def vat_sums(items: list[Item]) -> dict[str, int]:
    """VAT by tax percent (× 100, as a string key) of the positions."""
    out: dict[str, int] = {}
    for it in items:
        taxes = it.taxes
        if not taxes:
            continue
        net = it.amount - it.discount
        for t in taxes:
            p = t.percent  # (a vatCode's rate has this percent: parse_taxes checks it)
            vat = 0
            if p:
                if net >= 0:  # line_vat, inline
                    den = 10000 + p
                    vat, r = divmod(net * p, den)
                    if 2 * r >= den:
                        vat += 1
                else:
                    vat = line_vat(net, p)
            key = str(t.percent)
            out[key] = out.get(key, 0) + vat
    return out


def line_vat(amount: int, percent_x100: int) -> int:
    """``tables.vat_amount`` in integers: amount × p / (10000 + p), rounded half away from
    zero to the kopeck (exact: no decimal context is involved)."""
    if amount < 0:
        return -line_vat(-amount, percent_x100)
    den = 10000 + percent_x100
    q, r = divmod(amount * percent_x100, den)
    return q + 1 if 2 * r >= den else q


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
