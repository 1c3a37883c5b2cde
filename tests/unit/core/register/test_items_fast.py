"""The one-pass reader of plain positions (``items_fast``) against the field-by-field
checks (``items.parse_item``): for any position it either declines or gives the same
``Item``; and ``parse_items``, which tries it first, answers as ``parse_item`` does."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kassagate.core.register.items import parse_item
from kassagate.core.register.items_fast import fast_item
from kassagate.core.register.rules import parse_items
from kassagate.core.register.taxes import accepted_percents
from support.profiles import examples
from support.register_values import FIELDS, ITEM, TAX, VALUES, outcome

DAY = dt.date(2026, 3, 2)
DAYS = st.sampled_from([DAY, dt.date(2025, 6, 1)])
RATES = st.sampled_from([None, frozenset({1800, 800, 200, 0}), frozenset({2200})])
#: Positions as objects only (the one-pass reader is offered objects alone).
ITEM_OBJECTS = ITEM.filter(lambda v: isinstance(v, dict)) | st.fixed_dictionaries(
    {"itemName": st.sampled_from(["Coffee", "x" * 128]), "itemQty": st.integers(1, 10**12),
     "itemAmount": st.integers(0, 10**6), "itemTaxes": st.one_of(st.none(), st.lists(TAX, max_size=2))},
    optional={f: VALUES for f in FIELDS[3:]},
)


@given(ITEM_OBJECTS, DAYS, st.booleans(), st.booleans(), RATES)
def test_fast_item_declines_or_gives_what_parse_item_gives(item: dict[str, Any], day: dt.date, any_rate: bool,
                                                            prepay: bool, rates: frozenset[int] | None) -> None:
    fast = fast_item(item, 0, accepted_percents(day, any_rate, rates), 1 if prepay else 0)
    if fast is not None:
        assert fast == parse_item(item, 0, day=day, any_rate=any_rate, prepay=prepay, rates=rates)


def test_fast_item_takes_a_plain_position_and_declines_a_lenient_one() -> None:
    plain = {"itemName": "Coffee", "itemQty": 1000, "itemAmount": 15000, "itemTaxes": [{"taxPrc": 2200}]}
    accepted = accepted_percents(DAY, False, None)
    item = fast_item(plain, 3, accepted, 0)
    assert item is not None and item == parse_item(plain, 3, day=DAY, any_rate=False)
    assert item.index == 3 and item.taxes[0].percent == 2200
    # an integer sent as a string is read by parse_item alone
    lenient = {**plain, "itemQty": "1000"}
    assert fast_item(lenient, 0, accepted, 0) is None
    assert parse_item(lenient, 0, day=DAY, any_rate=False) == item._replace(index=0)


@settings(max_examples=examples(2000))
@given(ITEM, st.sampled_from([DAY, dt.date(2025, 6, 1)]), st.booleans(), st.booleans(),
       st.sampled_from([None, frozenset({1800, 800, 200, 0}), frozenset({2200})]))
def test_position_parsers_agree(item: Any, day: dt.date, any_rate: bool, prepay: bool,
                                rates: frozenset[int] | None) -> None:
    fast = outcome(lambda: parse_items([item], day=day, any_rate=any_rate, prepay=prepay, rates=rates))
    slow = outcome(lambda: [parse_item(item, 0, day=day, any_rate=any_rate, prepay=prepay, rates=rates)])
    assert fast == slow
