"""The one-pass reader of a plainly valid position, the hot path of every sale.

``fast_item`` accepts only positions of plain JSON types with every value in range, and
declines (None) everything else, which ``items.parse_item`` then checks field by field.
For every position it accepts it gives the ``Item`` that ``parse_item`` gives: the property
test ``tests/unit/core/register/test_items_fast.py`` holds it to that. A rule of a position
changes in ``parse_item``; here it changes only when the rule narrows what is accepted.
"""

from __future__ import annotations

from typing import Any

from kassagate.core.limits import MAX_MONEY, MAX_QTY
from kassagate.core.register.items import ITEM_ENUMS, ITEM_OPTIONAL, Item
from kassagate.core.register.taxes import Tax
from kassagate.core.tables import MAX_ITEM_NAME


def fast_item(it: dict[str, Any], i: int, accepted: frozenset[int], default_attr: int) -> Item | None:
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
    if ITEM_OPTIONAL.isdisjoint(it):  # none of the optional fields: their defaults
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
        for field, allowed in ITEM_ENUMS:
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
