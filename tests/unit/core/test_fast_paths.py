"""The register's cheap paths give what the plain computation gives: the time text, the
integer VAT, the one-pass payment parser (same result, or the same error, as the
field-by-field checks). The fiscal drive's and the positions' cheap paths are tested beside
their modules (``test_fn_fast.py``, ``register/test_items_fast.py``)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kassagate.core.register import Ctx, MemoryStore, Register, RegisterState
from kassagate.core.register.endpoints import receipts
from kassagate.core.register.rules import (
    MAX_MONEY,
    PAYMENT_KINDS,
    get_int,
    line_vat,
    parse_items,
    parse_payments,
    vat_sums,
)
from kassagate.core.tables import VAT_RATES, vat_amount
from support.profiles import examples
from support.register_values import VALUES, outcome

DAY = dt.date(2026, 3, 2)


def test_ctx_time_text() -> None:
    now = dt.datetime(7, 1, 2, 3, 4, 5, 999, tzinfo=dt.UTC)
    assert Ctx(now, random.Random(0)).ts == "0007-01-02 03:04:05"
    later = dt.datetime(2026, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    assert Ctx(later, random.Random(0)).ts == "2026-12-31 23:59:59"


@given(st.integers(-(10**13), 10**13), st.sampled_from(sorted({r.percent_x100 or 0 for r in VAT_RATES.values()})))
def test_line_vat_is_the_tables_vat_amount(amount: int, percent: int) -> None:
    rate = next(r for r in VAT_RATES.values() if (r.percent_x100 or 0) == percent)
    expected = vat_amount(amount, rate)
    if percent:
        assert line_vat(amount, percent) == expected
    items = parse_items([{"itemName": "x", "itemQty": 1000, "itemAmount": abs(amount),
                          "itemTaxes": [{"taxPrc": percent}]}], day=DAY, any_rate=True)
    assert vat_sums(items) == {str(percent): vat_amount(abs(amount), rate)}


# -- payments: the fields present against every field in order -----------------------------

@settings(max_examples=examples(1000))
@given(st.one_of(st.none(), st.dictionaries(st.sampled_from([*PAYMENT_KINDS.values(), "rrn", "x"]),
                                            st.one_of(VALUES, st.integers(0, MAX_MONEY),
                                                      st.sampled_from([MAX_MONEY, MAX_MONEY + 1, -1])),
                                            max_size=6)))
def test_payments_parser_reports_the_first_faulty_field_in_order(pays: Any) -> None:
    def reference() -> dict[str, int]:
        out = dict.fromkeys(PAYMENT_KINDS, 0)
        if pays is not None:
            for kind, name in PAYMENT_KINDS.items():
                out[kind] += get_int(pays, name, prefix="payments.")
        return out

    assert outcome(lambda: parse_payments({"payments": pays})) == outcome(reference)


def test_card_terminal_digits() -> None:
    fn_state = RegisterState(kkt_serial="1", merchant_id="m", fn=None)
    r = Register(fn_state, MemoryStore())
    cx = Ctx(dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC), random.Random(7))
    for _ in range(200):
        card = receipts.terminal(r, 100, cx)
        assert len(card["rrn"]) == 12 and card["rrn"].isdigit()
        assert len(card["auth"]) == 6 and card["auth"].isdigit()
        assert card["cardNum"][6:12] == "******" and card["cardNum"][12:].isdigit() and len(card["cardNum"]) == 16
    rng, ref = random.Random(3), random.Random(3)
    card = receipts.terminal(r, 100, Ctx(cx.now, rng))
    assert card["rrn"] == f"{ref.randrange(10**12):012d}" and card["auth"] == f"{ref.randrange(10**6):06d}"
