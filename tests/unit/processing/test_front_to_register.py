"""Nothing accepted that a register will refuse: every receipt that the front's rules accept
(``parse_receipt``), mapped by processing, is accepted by the register's rules, edges
included (zero and maximum money, 3-decimal quantities, every VAT code and settlement
sign, discounts, corrections)."""

from __future__ import annotations

import datetime as dt
import json
import random
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import given, note, settings
from hypothesis import strategies as st

from kassagate.core.fn import FiscalDrive
from kassagate.core.limits import MAX_MONEY
from kassagate.core.receipt import ReceiptError, parse_receipt
from kassagate.core.register import MemoryStore, Register, RegisterState
from kassagate.core.tables import VAT_RATES
from kassagate.processing.mapping import receipt_to_document
from support.profiles import examples
from support.strategies import receipts_wire

MSK = dt.timezone(dt.timedelta(hours=3))
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=MSK)
FORMS = ("money_nal", "money_electro", "money_predoplata", "money_postoplata", "money_vstrecha")
EDGE_MONEY = st.one_of(
    st.integers(0, 10**7), st.sampled_from([0, 1, MAX_MONEY - 1, MAX_MONEY, MAX_MONEY + 1, 2**48 - 1])
)


def register() -> Register:
    fn = FiscalDrive(serial="9999078900006825", reg_number="0000000001012345", key_hex="11" * 32,
                     registered_at="2026-01-01T00:00:00", capacity=250_000, last_fd=1)
    return Register(RegisterState(kkt_serial="1", merchant_id="m", fn=fn, auto_shift=True, last_doc_id=1),
                    MemoryStore())


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@st.composite
def edge_receipts(draw: st.DrawFn) -> dict[str, Any]:
    """Receipts at the money edges: lines and totals near the register's cap, zero totals,
    3-decimal quantities; valid or not, the front decides."""
    sign = draw(st.integers(1, 4))
    products = []
    for _ in range(draw(st.integers(1, 3))):
        qty = draw(st.sampled_from([Decimal(1), Decimal("0.001"), Decimal("1.5"), Decimal("2.333")]))
        summa = draw(EDGE_MONEY)
        skidka = draw(st.one_of(st.just(0), EDGE_MONEY))
        gross = summa + skidka
        products.append({
            "name_tovar": "x",
            "price_piece_bez_skidki": _round(Decimal(gross) / qty),
            "kolvo": format(qty, "f"),
            "skidka": skidka,
            "price_piece": _round(Decimal(summa) / qty),
            "summa": summa,
            "stavka_nds": draw(st.sampled_from(sorted(c for c, r in VAT_RATES.items() if r.valid_on(NOW.date())))),
            "priznak_sposoba_rascheta": 4,
            "priznak_predmeta_rascheta": 1,
            "priznak_agenta": "none",
        })
    total = sum(p["summa"] for p in products)
    form = draw(st.sampled_from(FORMS))
    receipt: dict[str, Any] = {
        "kassaid": "1", "kassatoken": "t", "cms": "x", "check_send_type": "none",
        "products_arr": products,
        "oplata_arr": {"rezhim_nalog": 0, **{f: (total if f == form else 0) for f in FORMS}},
        "itog_arr": {"priznak_rascheta": sign, "itog_cheka": total},
    }
    if draw(st.integers(0, 4)) == 0:
        receipt["korr_arr"] = {"tip_korr": 0, "data_korr": "2026-05-01", "nomer_predpisaniya": ""}
    return receipt


def check(raw: dict[str, Any], say: Any = note) -> None:
    try:
        parsed = parse_receipt(raw, today=NOW.date())
    except ReceiptError:
        return  # refused at the front: nothing to prove
    stored, _hash = parsed.stored_form()
    doc = receipt_to_document(json.loads(stored), nuid="1" * 23, accepted_at_us=int(NOW.timestamp() * 1e6))
    say(f"{doc.endpoint}: {doc.body}")
    answer = register().handle(doc.endpoint, doc.body, NOW, random.Random(0))
    assert answer["code"] == 0, answer


@settings(max_examples=examples(300))
@given(receipts_wire(today=NOW.date()))
def test_every_receipt_the_front_accepts_the_register_accepts(raw: dict[str, Any]) -> None:
    check(raw)


@settings(max_examples=examples(300))
@given(edge_receipts())
def test_every_receipt_at_the_money_edges_the_front_accepts_the_register_accepts(raw: dict[str, Any]) -> None:
    check(raw)


def one_line(summa: int, skidka: int = 0, *, qty: int = 1, korr: bool = False) -> dict[str, Any]:
    base = (summa + skidka) // qty
    receipt: dict[str, Any] = {
        "kassaid": "1", "kassatoken": "t", "cms": "x", "check_send_type": "none",
        "products_arr": [{"name_tovar": "x", "price_piece_bez_skidki": base, "kolvo": qty, "skidka": skidka,
                          "price_piece": summa // qty, "summa": summa, "stavka_nds": 6, "priznak_sposoba_rascheta": 4,
                          "priznak_predmeta_rascheta": 1, "priznak_agenta": "none"}],
        "oplata_arr": {"rezhim_nalog": 0, "money_electro": summa},
        "itog_arr": {"priznak_rascheta": 1, "itog_cheka": summa},
    }
    if korr:
        receipt["korr_arr"] = {"tip_korr": 0, "data_korr": "2026-05-01", "nomer_predpisaniya": ""}
    return receipt


def refusal(raw: dict[str, Any]) -> ReceiptError:
    try:
        parse_receipt(raw, today=NOW.date())
    except ReceiptError as e:
        return e
    raise AssertionError("the front accepted it")


def test_a_line_at_the_registers_cap_is_accepted_by_both() -> None:
    parse_receipt(one_line(MAX_MONEY), today=NOW.date())
    check(one_line(MAX_MONEY), print)


def test_a_line_over_the_registers_cap_is_refused_at_the_front() -> None:
    e = refusal(one_line(MAX_MONEY + 1))
    assert e.path in ("itog_arr.itog_cheka", "products_arr[0].price_piece_bez_skidki") and str(MAX_MONEY) in str(e)


def test_a_line_whose_amount_before_discount_is_over_the_cap_is_refused_at_the_front() -> None:
    """Each price and the total are within the cap; the line before its discount is not."""
    e = refusal(one_line(MAX_MONEY - 2, skidka=4, qty=2))
    assert e.path == "products_arr[0].skidka"
    assert f"summa {MAX_MONEY - 2} + discount 4" in str(e) and f"at most {MAX_MONEY}" in str(e)


def test_a_correction_with_a_zero_total_is_refused_at_the_front() -> None:
    e = refusal(one_line(0, korr=True))
    assert e.path == "itog_arr.itog_cheka" and "more than 0" in str(e)
    check(one_line(0), print)  # a zero sale is a valid document for both
