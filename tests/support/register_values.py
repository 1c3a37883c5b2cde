"""Hypothesis strategies of register request values: any JSON value a client might send in
a position or a payment (plain, out of range, of the wrong type), and positions built of
them; ``outcome`` turns a call into its result or its error (code and message)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from kassagate.core.limits import MAX_MONEY
from kassagate.core.register import CashboxError

VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.integers(-(10**14), 10**14),
                   st.sampled_from([0, 1, 2, 3, 4, 100, 101, 1000, 2200, 2000, 10000, 10001, 15000]),
                   st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=3),
                   st.sampled_from(["", " ", "12", "-3", "x" * 129, "Coffee", "1e3"]),
                   st.just([]), st.just({}))
TAX = st.one_of(VALUES, st.dictionaries(st.sampled_from(["taxPrc", "calcType", "taxCode", "taxRate", "taxAmount",
                                                         "vatCode", "x"]),
                                        st.one_of(VALUES, st.sampled_from([0, 500, 700, 1000, 2000, 2200, 1800]),
                                                  st.sampled_from([0.0, 18.0, 22, "22", "12.5", 10.5]),
                                                  st.integers(1, 13)), max_size=4))
FIELDS = ["itemName", "itemQty", "itemAmount", "discount", "discountPrc", "itemAttr", "paymentMethod",
          "paymentSubject", "agentSign", "measureUnit", "itemId", "itemCode", "other"]
ITEM = st.one_of(VALUES, st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=8),
                 st.fixed_dictionaries({"itemName": st.sampled_from(["Coffee", "", "x" * 128]),
                                        "itemQty": st.sampled_from([1000, 0, 1, 10**12, 10**12 + 1, True, "5"]),
                                        "itemAmount": st.sampled_from([15000, 0, -1, MAX_MONEY, MAX_MONEY + 1]),
                                        "itemTaxes": st.one_of(st.none(), st.lists(TAX, max_size=2))},
                                       optional={f: VALUES for f in FIELDS[3:]}))


def outcome(f: Callable[[], Any]) -> Any:
    try:
        return f()
    except CashboxError as e:
        return (int(e.code), e.message)


