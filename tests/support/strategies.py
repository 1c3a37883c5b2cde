"""Hypothesis strategies shared by the test suites.

``receipts_wire(today)`` draws receipts (the layer 1 JSON object, ``docs/receipt.md``)
that ``kassagate.core.receipt.parse_receipt(obj, today=today)`` accepts: consistent
arithmetic, enumerations in range, VAT codes valid for the settlement, sometimes in the
lenient encodings real clients use (numbers as strings, quantities as decimal strings,
integral floats). Fuzz tests mutate them; end-to-end tests send them.

``sample_receipt(...)`` is one fixed, valid receipt for tests that need just one.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from kassagate.core.receipt import AGENT_REQUIRED_FIELDS
from kassagate.core.tables import AGENT_SIGNS, MEASURE_UNITS, PAYMENT_FORMS, VAT_RATES

__all__ = ["receipts_wire", "sample_receipt"]

_AGENT_VALUES = {
    "operation_plat_agenta": "payment transfer",
    "phone_oper_perevoda": "+74951234567",
    "name_oper_perevoda": "Bank Operator LLC",
    "address_oper_perevoda": "Moscow, Tverskaya 1",
    "inn_oper_perevoda": "7707083893",
    "phone_oper_priem_plat": "+74957654321",
    "phone_postavshika": "+79161234567",
    "name_postavshika": "Supplier LLC",
}
_AGENT_ALL = (
    "phone_oper_perevoda",
    "operation_plat_agenta",
    "phone_oper_priem_plat",
    "name_oper_perevoda",
    "address_oper_perevoda",
    "inn_oper_perevoda",
    "phone_postavshika",
    "name_postavshika",
)

_MSK = dt.timezone(dt.timedelta(hours=3))

# Printable text without control characters (names, cms, order labels).
_TEXT_CHARS = st.characters(
    codec="utf-8", min_codepoint=0x20, exclude_categories=("Cc", "Cs"), exclude_characters="\x7f"
)


def _text(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.text(_TEXT_CHARS, min_size=min_size, max_size=max_size).filter(lambda s: not min_size or bool(s.strip()))


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _money_encoding(draw: st.DrawFn, amount: int, lenient: bool) -> Any:
    if not lenient:
        return amount
    kind = draw(st.sampled_from(["int", "str", "float"]))
    if kind == "str":
        return str(amount)
    if kind == "float" and amount < 2**53:
        return float(amount)
    return amount


def _int_encoding(draw: st.DrawFn, value: int, lenient: bool) -> Any:
    if lenient and draw(st.booleans()):
        return str(value)
    return value


@st.composite
def _product(draw: st.DrawFn, vat_day: dt.date | None, lenient: bool) -> dict[str, Any]:
    if draw(st.booleans()):
        qty = Decimal(draw(st.integers(1, 50)))
    else:
        qty = Decimal(draw(st.integers(1, 100_000))) / Decimal(1000)
    base = draw(st.integers(0, 10_000_000))
    gross = _round(Decimal(base) * qty)
    if lenient and draw(st.booleans()):
        # The vendor's plugin: skidka per unit (price_piece_bez_skidki - price_piece).
        skidka = draw(st.one_of(st.just(0), st.integers(0, base)))
        summa = _round(Decimal(base - skidka) * qty)
    else:
        skidka = draw(st.one_of(st.just(0), st.integers(0, gross)))
        summa = gross - skidka
    delta = draw(st.sampled_from([0, 0, 0, 1, -1]))
    if summa + delta >= 0:
        summa += delta
    price = _round(Decimal(summa) / qty)
    codes = sorted(c for c, r in VAT_RATES.items() if vat_day is None or r.valid_on(vat_day))
    agent = draw(st.one_of(st.just(None), st.sampled_from(sorted(AGENT_SIGNS))))

    if qty == qty.to_integral_value():
        kolvo: Any = int(qty)
        if lenient:
            kolvo = draw(st.sampled_from([int(qty), str(int(qty)), float(qty)]))
    else:
        text = format(qty.normalize(), "f")
        kolvo = draw(st.sampled_from([text, float(text)])) if lenient else float(text)

    product: dict[str, Any] = {
        "name_tovar": draw(_text(1, 128)),
        "price_piece_bez_skidki": _money_encoding(draw, base, lenient),
        "kolvo": kolvo,
        "skidka": _money_encoding(draw, skidka, lenient),
        "price_piece": _money_encoding(draw, price, lenient),
        "summa": _money_encoding(draw, summa, lenient),
        "stavka_nds": _int_encoding(draw, draw(st.sampled_from(codes)), lenient),
        "priznak_sposoba_rascheta": _int_encoding(draw, draw(st.integers(1, 7)), lenient),
        "priznak_predmeta_rascheta": _int_encoding(draw, draw(st.integers(1, 33)), lenient),
        "priznak_agenta": "none" if agent is None else _int_encoding(draw, agent, lenient),
    }
    for name in _AGENT_ALL:
        product[name] = ""
    if agent is None and lenient and draw(st.booleans()):
        # The vendor's plugin: 40 = not an agent, false in agent strings never configured.
        product["priznak_agenta"] = draw(st.sampled_from([40, "40"]))
        for name in _AGENT_ALL:
            product[name] = False
    if lenient and skidka == 0 and base == price and draw(st.booleans()):
        # Scripts leave out the price before discount and the discount when there is none.
        del product["price_piece_bez_skidki"], product["skidka"]
    if agent is not None:
        for name in (*AGENT_REQUIRED_FIELDS[agent], "name_postavshika", "phone_postavshika"):
            product[name] = _AGENT_VALUES[name]
    if draw(st.booleans()):
        product["mera_kolva_predmeta_rasheta"] = str(draw(st.sampled_from(sorted(MEASURE_UNITS))))
    return product


@st.composite
def receipts_wire(
    draw: st.DrawFn,
    today: dt.date = dt.date(2026, 6, 1),
    *,
    kassaid: str = "123456",
    kassatoken: str = "test-token-0123456789",
    max_products: int = 5,
    lenient: bool = True,
    corrections: bool = True,
) -> dict[str, Any]:
    """A valid receipt (wire form) for a settlement on ``today``."""
    sign = draw(st.integers(1, 4))
    korr: dict[str, Any] | None = None
    korr_day: dt.date | None = None
    if corrections and draw(st.integers(0, 9)) == 0:
        korr_day = draw(st.dates(min_value=dt.date(2024, 1, 1), max_value=today))
        tip = draw(st.integers(0, 1))
        if lenient and draw(st.booleans()):
            # The vendor's names: unix seconds (Moscow) as a number or a string.
            seconds = int(dt.datetime(korr_day.year, korr_day.month, korr_day.day, tzinfo=_MSK).timestamp())
            seconds += draw(st.integers(0, 86_399))
            korr = {
                "type_korr": draw(st.sampled_from([tip, str(tip)])),
                "date_doc_korr": draw(st.sampled_from([seconds, str(seconds)])),
                "numb_doc_korr": "12-34/567" if tip == 1 else "",
                "name_doc_korr": "Act",
            }
        else:
            korr = {
                "tip_korr": draw(st.sampled_from([tip, ["self", "ordered"][tip]])) if lenient else tip,
                "data_korr": korr_day.strftime("%d.%m.%Y") if lenient and draw(st.booleans()) else korr_day.isoformat(),
                "nomer_predpisaniya": "12-34/567" if tip == 1 else "",
            }
    elif lenient and sign in (2, 4) and draw(st.booleans()):
        # The vendor's plugin: every return names its basis document.
        day = draw(st.dates(min_value=dt.date(2024, 1, 1), max_value=today))
        seconds = int(dt.datetime(day.year, day.month, day.day, tzinfo=_MSK).timestamp())
        number = str(draw(st.integers(1, 10**6)))
        korr = {"name_doc_korr": "Заказ", "date_doc_korr": str(seconds), "num_doc_korr": number}
    # VAT by date: returns may use any rate, corrections those of the corrected date.
    vat_day = None if sign in (2, 4) else (korr_day or today)
    products = draw(st.lists(_product(vat_day, lenient), min_size=1, max_size=max_products))
    total = sum(int(Decimal(str(p["summa"]))) for p in products)
    assume(korr is None or total > 0)  # a correction settles an amount

    # Split the total over the five payment forms.
    cuts = sorted(draw(st.lists(st.integers(0, total), min_size=4, max_size=4)))
    bounds = [0, *cuts, total]
    money = {name: bounds[i + 1] - bounds[i] for i, name in enumerate(PAYMENT_FORMS)}

    send = draw(st.sampled_from(["email", "phone", "none"]))
    oplata: dict[str, Any] = {
        "rezhim_nalog": _int_encoding(draw, draw(st.sampled_from([0, 1, 2, 4, 5])), lenient),
        **{name: _money_encoding(draw, amount, lenient) for name, amount in money.items()},
        "kassir_inn": draw(st.sampled_from(["", "7707083893", "500100732259"])),
        "kassir_fio": draw(st.sampled_from(["", "Ivanova A. A."])),
        "client_email": "buyer@example.com" if send == "email" else "",
        "client_phone": "+79991234567" if send == "phone" else "",
    }
    if draw(st.booleans()):
        oplata["inn_pokupatel"] = "7707083893"
        oplata["name_pokupatel"] = "Buyer LLC"
    receipt: dict[str, Any] = {
        "kassaid": kassaid,
        "kassatoken": kassatoken,
        "cms": draw(st.sampled_from(["wordpress", "bitrix", "kassagate-client", "opencart 3"])),
        "check_send_type": send,
        "name_zakaz": draw(st.sampled_from(["", "Order #1", "заказ 42"])),
        "check_vend_address": "",
        "check_vend_mesto": "",
        "check_vend_num_avtovat": "",
        "products_arr": products,
        "oplata_arr": oplata,
        "itog_arr": {"priznak_rascheta": _int_encoding(draw, sign, lenient), "itog_cheka": total},
    }
    if korr is not None:
        receipt["korr_arr"] = korr
    return receipt


def sample_receipt(
    *,
    kassaid: str = "123456",
    kassatoken: str = "test-token-0123456789",
    amount: int = 15000,
    email: str = "buyer@example.com",
    vending: bool = False,
) -> dict[str, Any]:
    """One valid sale receipt (wire form) of one line of ``amount`` kopecks paid
    electronically, VAT "without VAT" (valid on any date)."""
    receipt: dict[str, Any] = {
        "kassaid": kassaid,
        "kassatoken": kassatoken,
        "cms": "kassagate-tests",
        "check_send_type": "email",
        "name_zakaz": "Order 1",
        "check_vend_address": "Moscow, Lenina 1" if vending else "",
        "check_vend_mesto": "Hall 2" if vending else "",
        "check_vend_num_avtovat": "VM-0001" if vending else "",
        "products_arr": [
            {
                "name_tovar": "Tea",
                "price_piece_bez_skidki": amount,
                "kolvo": 1,
                "skidka": 0,
                "price_piece": amount,
                "summa": amount,
                "stavka_nds": 6,
                "priznak_sposoba_rascheta": 4,
                "priznak_predmeta_rascheta": 1,
                "priznak_agenta": "none",
            }
        ],
        "oplata_arr": {
            "rezhim_nalog": 1,
            "money_nal": 0,
            "money_electro": amount,
            "money_predoplata": 0,
            "money_postoplata": 0,
            "money_vstrecha": 0,
            "kassir_inn": "",
            "kassir_fio": "",
            "client_email": email,
            "client_phone": "",
        },
        "itog_arr": {"priznak_rascheta": 1, "itog_cheka": amount},
    }
    return receipt
