"""The register's cheap paths give what the plain computation gives: the fiscal sign with
its pads hashed once, the time texts, the integer VAT, the one-pass position and payment
parsers (same result, or the same error, as the field-by-field checks)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import random
import zoneinfo
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kassagate.core.fn import fiscal_sign, minute_text, naive
from kassagate.core.register import CashboxError, Ctx, MemoryStore, Register, RegisterState
from kassagate.core.register.endpoints import receipts
from kassagate.core.register.rules import (
    MAX_MONEY,
    PAYMENT_KINDS,
    get_int,
    line_vat,
    parse_item,
    parse_items,
    parse_payments,
    vat_sums,
)
from kassagate.core.tables import VAT_RATES, vat_amount

DAY = dt.date(2026, 3, 2)


@given(st.binary(min_size=0, max_size=200), st.binary(max_size=300))
def test_fiscal_sign_is_hmac_sha256_for_any_key(key: bytes, data: bytes) -> None:
    assert fiscal_sign(key, data) == hmac.new(key, data, hashlib.sha256).digest()[:6]


@given(st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)))
def test_minute_text_is_the_zero_padded_minute(when: dt.datetime) -> None:
    expected = f"{when.year:04d}{when.month:02d}{when.day:02d}T{when.hour:02d}{when.minute:02d}"
    assert minute_text(when) == expected
    assert minute_text(when) == expected  # the cached text of the same time


@pytest.mark.parametrize("fold", [0, 1])
def test_naive_keeps_the_wall_time_and_fold(fold: int) -> None:
    t = dt.datetime(2026, 10, 25, 2, 30, 5, 123, tzinfo=zoneinfo.ZoneInfo("Europe/Berlin"), fold=fold)
    n = naive(t)
    assert n == t.replace(tzinfo=None) and n.tzinfo is None and n.fold == fold
    assert naive(t) is n
    other = t + dt.timedelta(minutes=1)
    assert naive(other) == other.replace(tzinfo=None)


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


# -- positions: the one-pass parser against the field-by-field one ---------------------------

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


def outcome(f: Any) -> Any:
    try:
        return f()
    except CashboxError as e:
        return (int(e.code), e.message)


@settings(max_examples=2000)
@given(ITEM, st.sampled_from([DAY, dt.date(2025, 6, 1)]), st.booleans(), st.booleans(),
       st.sampled_from([None, frozenset({1800, 800, 200, 0}), frozenset({2200})]))
def test_position_parsers_agree(item: Any, day: dt.date, any_rate: bool, prepay: bool,
                                rates: frozenset[int] | None) -> None:
    fast = outcome(lambda: parse_items([item], day=day, any_rate=any_rate, prepay=prepay, rates=rates))
    slow = outcome(lambda: [parse_item(item, 0, day=day, any_rate=any_rate, prepay=prepay, rates=rates)])
    assert fast == slow


# -- payments: the fields present against every field in order -----------------------------

@settings(max_examples=1000)
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
