"""The positions of a document (``items[]``): each position checked field by field, in
order, so that the first fault is the error; the two readings of ``itemAmount``; the VAT
of the positions."""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from kassagate.core.codes import CashboxCode as C
from kassagate.core.limits import MAX_QTY
from kassagate.core.register.fields import as_int, get_int, get_str
from kassagate.core.register.model import CashboxError
from kassagate.core.register.taxes import Tax, line_vat, parse_taxes
from kassagate.core.tables import AGENT_SIGNS, MAX_ITEM_NAME, MEASURE_UNITS, PAYMENT_METHODS, PAYMENT_SUBJECTS


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


ITEM_ENUMS: tuple[tuple[str, Any], ...] = (
    ("paymentMethod", frozenset(PAYMENT_METHODS)),
    ("paymentSubject", PAYMENT_SUBJECTS),
    ("agentSign", AGENT_SIGNS),
    ("measureUnit", MEASURE_UNITS),
)


#: The optional fields of a position (``fast_item`` skips them all when none is there).
ITEM_OPTIONAL = frozenset({"discount", "discountPrc", "itemAttr", "itemId", "itemCode",
                            *(name for name, _ in ITEM_ENUMS)})


def _check_enum(item: dict[str, Any], name: str, allowed: Any, prefix: str) -> None:
    v = item.get(name)
    if v is None:
        return
    if as_int(v) not in allowed:
        raise CashboxError(C.INVALID_JSON, f"{prefix}{name} has no allowed value {str(v)[:40]!r}: allowed "
                                           f"{sorted(allowed)}")


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
    for field, allowed in ITEM_ENUMS:
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
