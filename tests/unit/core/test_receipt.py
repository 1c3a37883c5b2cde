"""The receipt rules (``docs/receipt.md``): one case per rule, asserting
the field path and the message, and property tests over generated valid receipts."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kassagate.core.receipt import (
    MAX_MONEY,
    Correction,
    Receipt,
    ReceiptError,
    canonical_json,
    parse_receipt,
)
from support.profiles import examples
from support.strategies import receipts_wire, sample_receipt

TODAY = dt.date(2026, 11, 23)
OLD_DAY = dt.date(2025, 6, 1)


def base() -> dict[str, Any]:
    """Three pieces at 50.00 roubles, paid electronically: summa 15000."""
    r = sample_receipt(amount=15000)
    p = r["products_arr"][0]
    p.update(price_piece_bez_skidki=5000, kolvo=3, price_piece=5000, summa=15000)
    return r


def mutated(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    r = base()
    change(r)
    return r


def error_of(obj: Any, today: dt.date = TODAY) -> ReceiptError:
    with pytest.raises(ReceiptError) as info:
        parse_receipt(obj, today=today)
    return info.value


def prod(r: dict[str, Any], i: int = 0) -> dict[str, Any]:
    return r["products_arr"][i]


def set_line(r: dict[str, Any], **fields: Any) -> None:
    """Change the first line and keep the totals consistent with its summa."""
    prod(r).update(fields)
    summa = int(prod(r)["summa"])
    r["itog_arr"]["itog_cheka"] = summa
    r["oplata_arr"]["money_electro"] = summa


# --------------------------------------------------------------------------- valid input


def test_base_receipt_is_accepted_and_typed() -> None:
    receipt = parse_receipt(base(), today=TODAY)
    assert receipt.kassaid == "123456"
    assert receipt.total == 15000
    line = receipt.products_arr[0]
    assert line.kolvo == Decimal(3)
    assert (line.price_piece_bez_skidki, line.summa, line.stavka_nds) == (5000, 15000, 6)
    assert line.priznak_agenta is None
    assert receipt.customer_contact == "buyer@example.com"
    assert not receipt.is_return and not receipt.is_correction


def test_lenient_php_encodings_are_accepted() -> None:
    r = base()
    p = prod(r)
    p.update(
        price_piece_bez_skidki="5000",
        kolvo="1.5",
        skidka="0",
        price_piece=5000.0,
        summa="7500",
        stavka_nds="6",
        priznak_sposoba_rascheta="4",
        priznak_predmeta_rascheta="1",
    )
    r["oplata_arr"].update(rezhim_nalog="1", money_electro="7500")
    r["itog_arr"] = [{"priznak_rascheta": "1", "itog_cheka": 7500.0}]  # wrapped in an array
    receipt = parse_receipt(r, today=TODAY)
    assert receipt.products_arr[0].kolvo == Decimal("1.5")
    assert receipt.products_arr[0].price_piece == 5000
    assert receipt.oplata_arr.rezhim_nalog == 1
    assert receipt.itog_arr.itog_cheka == 7500


def test_php_object_for_products_array_is_read_in_key_order() -> None:
    r = base()
    second = dict(prod(r), name_tovar="Second")
    r["products_arr"] = {"1": second, "0": prod(r)}
    set_total = 30000
    r["itog_arr"]["itog_cheka"] = set_total
    r["oplata_arr"]["money_electro"] = set_total
    receipt = parse_receipt(r, today=TODAY)
    assert [p.name_tovar for p in receipt.products_arr] == ["Tea", "Second"]


def test_optional_fields_default() -> None:
    r = base()
    for name in ("skidka", "priznak_agenta"):
        del prod(r)[name]
    for name in ("money_nal", "money_predoplata", "money_postoplata", "money_vstrecha", "kassir_inn", "kassir_fio"):
        del r["oplata_arr"][name]
    del r["name_zakaz"]
    receipt = parse_receipt(r, today=TODAY)
    assert receipt.products_arr[0].skidka == 0
    assert receipt.oplata_arr.money_nal == 0
    assert receipt.name_zakaz == ""


def test_summa_within_one_kopeck_is_accepted() -> None:
    # 333 × 0.333 = 110.889 -> 111; 110 and 112 are within 1 kopeck.
    for summa in (110, 111, 112):
        r = base()
        price = round(summa / 0.333)
        set_line(r, price_piece_bez_skidki=333, kolvo="0.333", price_piece=price, summa=summa)
        assert parse_receipt(r, today=TODAY).products_arr[0].summa == summa


# --------------------------------------------------------------------------- structure


@pytest.mark.parametrize(
    ("obj", "path", "message"),
    [
        ([], "receipt", "expected a JSON object, got an array"),
        ("x", "receipt", "expected a JSON object, got 'x' (string)"),
        (None, "receipt", "expected a JSON object, got null"),
    ],
)
def test_receipt_must_be_an_object(obj: Any, path: str, message: str) -> None:
    err = error_of(obj)
    assert (err.path, err.message) == (path, message)
    assert str(err) == f"{path}: {message}"


@pytest.mark.parametrize(
    "path",
    [
        "kassaid",
        "kassatoken",
        "cms",
        "check_send_type",
        "products_arr",
        "oplata_arr",
        "itog_arr",
        "products_arr[0].name_tovar",
        "products_arr[0].kolvo",
        "products_arr[0].price_piece",
        "products_arr[0].summa",
        "products_arr[0].stavka_nds",
        "products_arr[0].priznak_sposoba_rascheta",
        "products_arr[0].priznak_predmeta_rascheta",
        "oplata_arr.rezhim_nalog",
        "itog_arr.priznak_rascheta",
        "itog_arr.itog_cheka",
    ],
)
def test_required_fields(path: str) -> None:
    r = base()
    container: Any = r
    parts = path.replace("[0]", ".0").split(".")
    for part in parts[:-1]:
        container = container[int(part)] if part.isdigit() else container[part]
    del container[parts[-1]]
    err = error_of(r)
    assert (err.path, err.message) == (path, "required field is missing")
    container[parts[-1]] = None
    err = error_of(r)
    assert (err.path, err.message) == (path, "required field is null")


def test_cms_must_not_be_empty() -> None:
    err = error_of(mutated(lambda r: r.update(cms="  ")))
    assert (err.path, err.message) == ("cms", "must not be empty")


def test_at_least_one_product() -> None:
    err = error_of(mutated(lambda r: r.update(products_arr=[])))
    assert (err.path, err.message) == ("products_arr", "expected at least one product, got an empty array")


def test_products_must_be_an_array_of_objects() -> None:
    err = error_of(mutated(lambda r: r.update(products_arr="tea")))
    assert (err.path, err.message) == ("products_arr", "expected an array of products, got 'tea' (string)")
    err = error_of(mutated(lambda r: r.update(products_arr=[5])))
    assert (err.path, err.message) == ("products_arr[0]", "expected a product object, got 5")


def test_too_many_products() -> None:
    err = error_of(mutated(lambda r: r.update(products_arr=[prod(r)] * 1001)))
    assert (err.path, err.message) == ("products_arr", "expected at most 1000 products, got 1001")


def test_oplata_and_itog_must_be_objects() -> None:
    err = error_of(mutated(lambda r: r.update(oplata_arr=[1, 2])))
    assert (err.path, err.message) == ("oplata_arr", "expected a JSON object, got an array")
    err = error_of(mutated(lambda r: r.update(itog_arr=3)))
    assert (err.path, err.message) == ("itog_arr", "expected a JSON object, got 3")


# --------------------------------------------------------------------------- types and lengths


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "50.00",
            "expected a non-negative integer number of kopecks, got '50.00' (string): money is in kopecks "
            "(12.50 roubles is 1250)",
        ),
        (
            50.5,
            "expected a non-negative integer number of kopecks, got 50.5: money is in kopecks (12.50 roubles is 1250)",
        ),
        (-1, "expected a non-negative integer number of kopecks, got -1"),
        ("-1", "expected a non-negative integer number of kopecks, got -1"),
        (True, "expected a non-negative integer number of kopecks, got true"),
        ("1e3", "expected a non-negative integer number of kopecks, got '1e3' (string)"),
        (" 100", "expected a non-negative integer number of kopecks, got ' 100' (string)"),
        ([1], "expected a non-negative integer number of kopecks, got an array"),
        (float("nan"), "expected a non-negative integer number of kopecks, got nan"),
        (
            "9" * 5000,
            "expected a non-negative integer number of kopecks, got '9999999999999999999999999999999999999999'"
            "… (a string of 5000 characters)",
        ),
        (MAX_MONEY + 1, f"expected at most {MAX_MONEY} kopecks, got {MAX_MONEY + 1}"),
    ],
)
def test_money_type(value: Any, message: str) -> None:
    err = error_of(mutated(lambda r: prod(r).update(price_piece_bez_skidki=value)))
    assert (err.path, err.message) == ("products_arr[0].price_piece_bez_skidki", message)


@pytest.mark.parametrize(
    "field", ["money_nal", "money_electro", "money_predoplata", "money_postoplata", "money_vstrecha"]
)
def test_payment_money_type(field: str) -> None:
    err = error_of(mutated(lambda r: r["oplata_arr"].update({field: "1.5"})))
    assert err.path == f"oplata_arr.{field}"
    assert err.message.startswith("expected a non-negative integer number of kopecks, got '1.5' (string)")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "expected a quantity > 0, got 0"),
        ("0.000", "expected a quantity > 0, got '0.000' (string)"),
        (-2, "expected a quantity > 0, got -2"),
        ("1.2345", "expected at most 3 decimals, got '1.2345' (string)"),
        (0.0001, "expected at most 3 decimals, got 0.0001"),
        (
            "1,5",
            "expected a quantity > 0 with at most 3 decimals (a number or a string like \"1.5\"), got '1,5' "
            "(string) (use a dot as decimal separator)",
        ),
        (
            "abc",
            "expected a quantity > 0 with at most 3 decimals (a number or a string like \"1.5\"), got 'abc' (string)",
        ),
        (False, 'expected a quantity > 0 with at most 3 decimals (a number or a string like "1.5"), got false'),
        (float("inf"), 'expected a quantity > 0 with at most 3 decimals (a number or a string like "1.5"), got inf'),
        ("100000000", "expected a quantity of at most 99999999.999, got '100000000' (string)"),
    ],
)
def test_kolvo(value: Any, message: str) -> None:
    err = error_of(mutated(lambda r: prod(r).update(kolvo=value)))
    assert (err.path, err.message) == ("products_arr[0].kolvo", message)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2", Decimal(2)),
        (2.0, Decimal(2)),
        ("0.5", Decimal("0.5")),
        (0.125, Decimal("0.125")),
        ("1.500", Decimal("1.5")),
    ],
)
def test_kolvo_accepted_forms(value: Any, expected: Decimal) -> None:
    r = base()
    summa = int(Decimal(5000) * expected)
    set_line(r, kolvo=value, summa=summa)
    assert parse_receipt(r, today=TODAY).products_arr[0].kolvo == expected


def test_integer_fields_refuse_decimal_strings() -> None:
    err = error_of(mutated(lambda r: prod(r).update(stavka_nds="6.0")))
    assert err.path == "products_arr[0].stavka_nds"
    assert err.message == (
        "expected a VAT code (tag 1199) from 1 to 12 (an integer), got '6.0' (string): a decimal string is "
        "ambiguous here"
    )


def test_name_tovar_length_and_content() -> None:
    err = error_of(mutated(lambda r: prod(r).update(name_tovar="x" * 129)))
    assert (err.path, err.message) == ("products_arr[0].name_tovar", "expected at most 128 characters, got 129")
    assert parse_receipt(mutated(lambda r: prod(r).update(name_tovar="я" * 128)), today=TODAY)
    err = error_of(mutated(lambda r: prod(r).update(name_tovar="")))
    assert (err.path, err.message) == ("products_arr[0].name_tovar", "must not be empty")
    err = error_of(mutated(lambda r: prod(r).update(name_tovar="a\nb")))
    assert (err.path, err.message) == (
        "products_arr[0].name_tovar",
        "control characters (line breaks, tabs, NUL ...) are not allowed",
    )
    err = error_of(mutated(lambda r: prod(r).update(name_tovar={"x": 1})))
    assert (err.path, err.message) == ("products_arr[0].name_tovar", "expected a string, got an object")


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("check_vend_address", 256),
        ("check_vend_mesto", 256),
        ("check_vend_num_avtovat", 20),
        ("cms", 128),
        ("name_zakaz", 256),
    ],
)
def test_top_level_lengths(field: str, limit: int) -> None:
    assert parse_receipt(mutated(lambda r: r.update({field: "a" * limit})), today=TODAY)
    err = error_of(mutated(lambda r: r.update({field: "a" * (limit + 1)})))
    assert (err.path, err.message) == (field, f"expected at most {limit} characters, got {limit + 1}")


def test_kassir_fio_length() -> None:
    err = error_of(mutated(lambda r: r["oplata_arr"].update(kassir_fio="a" * 65)))
    assert (err.path, err.message) == ("oplata_arr.kassir_fio", "expected at most 64 characters, got 65")


# --------------------------------------------------------------------------- enumerations


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("stavka_nds", 0, "expected a VAT code (tag 1199) from 1 to 12, got 0"),
        ("stavka_nds", 13, "expected a VAT code (tag 1199) from 1 to 12, got 13"),
        ("priznak_sposoba_rascheta", 0, "expected a payment method (tag 1214) from 1 to 7, got 0"),
        ("priznak_sposoba_rascheta", 8, "expected a payment method (tag 1214) from 1 to 7, got 8"),
        ("priznak_predmeta_rascheta", 0, "expected a payment subject (tag 1212) from 1 to 33, got 0"),
        ("priznak_predmeta_rascheta", "34", "expected a payment subject (tag 1212) from 1 to 33, got 34"),
        ("priznak_agenta", 7, 'expected an agent sign (tag 1222): "none" or 0 to 6, got 7'),
        (
            "priznak_agenta",
            "agent",
            "expected an agent sign (tag 1222): \"none\" or 0 to 6 (an integer), got 'agent' (string)",
        ),
        (
            "mera_kolva_predmeta_rasheta",
            "5",
            "expected a measure of quantity (tag 2108): 0 pieces, 10-12 mass, "
            "20-22 length, 30-32 area, 40-42 volume, 50-51 energy, 70-73 time, 80-83 data, 255 other, got 5",
        ),
    ],
)
def test_product_enumerations(field: str, value: Any, message: str) -> None:
    err = error_of(mutated(lambda r: prod(r).update({field: value})))
    assert (err.path, err.message) == (f"products_arr[0].{field}", message)


def test_enumerations_accept_every_value_in_range() -> None:
    for method in range(1, 8):
        assert parse_receipt(mutated(lambda r, m=method: prod(r).update(priznak_sposoba_rascheta=m)), today=TODAY)
    for subject in (1, 13, 33):
        assert parse_receipt(mutated(lambda r, s=subject: prod(r).update(priznak_predmeta_rascheta=s)), today=TODAY)
    receipt = parse_receipt(mutated(lambda r: prod(r).update(mera_kolva_predmeta_rasheta="0")), today=TODAY)
    assert receipt.products_arr[0].mera_kolva_predmeta_rasheta == 0


def test_rezhim_nalog_3_is_retired() -> None:
    err = error_of(mutated(lambda r: r["oplata_arr"].update(rezhim_nalog=3)))
    assert err.path == "oplata_arr.rezhim_nalog"
    assert err.message.startswith("tax system 3 (imputed income, ENVD) no longer exists")


@pytest.mark.parametrize("value", [-1, 6, 7])
def test_rezhim_nalog_range(value: int) -> None:
    err = error_of(mutated(lambda r: r["oplata_arr"].update(rezhim_nalog=value)))
    assert err.path == "oplata_arr.rezhim_nalog"
    assert err.message == (
        "expected a tax system (tag 1055): 0 general, 1 simplified, income, 2 simplified, income minus expense, "
        f"4 agricultural, 5 patent; got {value}"
    )


@pytest.mark.parametrize("value", [0, 5, "sale"])
def test_priznak_rascheta_range(value: Any) -> None:
    err = error_of(mutated(lambda r: r["itog_arr"].update(priznak_rascheta=value)))
    assert err.path == "itog_arr.priznak_rascheta"
    assert err.message.startswith(
        "expected a settlement sign (tag 1054): 1 sale, 2 sale return, 3 purchase, 4 purchase return"
    )


def test_check_send_type_enumeration() -> None:
    err = error_of(mutated(lambda r: r.update(check_send_type="sms")))
    assert (err.path, err.message) == ("check_send_type", 'expected "email", "phone" or "none", got \'sms\' (string)')
    assert parse_receipt(mutated(lambda r: r.update(check_send_type="EMAIL")), today=TODAY).check_send_type == "email"


# --------------------------------------------------------------------------- VAT by date


def test_vat_20_refused_for_a_sale_after_2026() -> None:
    err = error_of(mutated(lambda r: prod(r).update(stavka_nds=1)))
    assert err.path == "products_arr[0].stavka_nds"
    assert err.message == (
        "VAT code 1 (20%) is valid until 2026-01-04, not on 2026-11-23; valid codes: 2 (10%), 4 (10/110), 5 (0%), "
        "6 (without VAT), 7 (5%), 8 (7%), 9 (5/105), 10 (7/107), 11 (22%), 12 (22/122)"
    )


def test_vat_22_refused_before_2026() -> None:
    err = error_of(mutated(lambda r: prod(r).update(stavka_nds=11)), today=OLD_DAY)
    assert err.path == "products_arr[0].stavka_nds"
    assert err.message.startswith("VAT code 11 (22%) is valid from 2026-01-05, not on 2025-06-01")
    assert parse_receipt(mutated(lambda r: prod(r).update(stavka_nds=1)), today=OLD_DAY)


@pytest.mark.parametrize("sign", [2, 4])
def test_return_may_use_any_rate_of_the_table(sign: int) -> None:
    r = mutated(lambda r: (prod(r).update(stavka_nds=1), r["itog_arr"].update(priznak_rascheta=sign)))
    assert parse_receipt(r, today=TODAY).is_return
    err = error_of(mutated(lambda r: (prod(r).update(stavka_nds=3), r["itog_arr"].update(priznak_rascheta=3))))
    assert err.path == "products_arr[0].stavka_nds"


def test_from_wire_skips_the_date_rule() -> None:
    r = mutated(lambda r: prod(r).update(stavka_nds=1))
    assert Receipt.from_wire(r).products_arr[0].stavka_nds == 1


# --------------------------------------------------------------------------- corrections


def correction(tip: Any = 0, day: str = "2025-12-01", nomer: str = "") -> dict[str, Any]:
    return {"tip_korr": tip, "data_korr": day, "nomer_predpisaniya": nomer}


def test_correction_is_typed_and_uses_the_rate_of_the_corrected_date() -> None:
    r = mutated(lambda r: (r.update(korr_arr=correction()), prod(r).update(stavka_nds=1)))
    receipt = parse_receipt(r, today=TODAY)
    assert receipt.korr_arr == Correction(type_korr=0, date_doc_korr=dt.date(2025, 12, 1), numb_doc_korr="")
    assert receipt.is_correction
    err = error_of(mutated(lambda r: (r.update(korr_arr=correction(day="2026-02-01")), prod(r).update(stavka_nds=1))))
    assert err.path == "products_arr[0].stavka_nds"
    assert err.message.startswith(
        "VAT code 1 (20%) is valid until 2026-01-04, not on the corrected settlement's date 2026-02-01"
    )


def test_correction_fields() -> None:
    err = error_of(mutated(lambda r: r.update(korr_arr=correction(tip=2))))
    assert err.path == "korr_arr.tip_korr"
    assert err.message.startswith("expected a correction type (tag 1173)")
    err = error_of(mutated(lambda r: r.update(korr_arr=correction(day="01/12/2025"))))
    assert (err.path, err.message) == (
        "korr_arr.data_korr",
        'expected a date "YYYY-MM-DD" (or "DD.MM.YYYY"), got \'01/12/2025\' (string)',
    )
    err = error_of(mutated(lambda r: r.update(korr_arr=correction(day="2026-11-24"))))
    assert (err.path, err.message) == (
        "korr_arr.data_korr",
        "expected the date of a past settlement (at most 2026-11-23), got 2026-11-24",
    )
    err = error_of(mutated(lambda r: r.update(korr_arr=correction(tip="ordered"))))
    assert (err.path, err.message) == (
        "korr_arr.nomer_predpisaniya",
        "required when tip_korr is 1 (correction by order)",
    )
    receipt = parse_receipt(
        mutated(lambda r: r.update(korr_arr=correction(tip="ordered", day="01.12.2025", nomer="77-1"))), today=TODAY
    )
    assert receipt.korr_arr == Correction(type_korr=1, date_doc_korr=dt.date(2025, 12, 1), numb_doc_korr="77-1")


# --------------------------------------------------------------------------- arithmetic


def test_summa_rule_names_the_expected_value() -> None:
    err = error_of(mutated(lambda r: set_line(r, summa=14000)))
    assert err.path == "products_arr[0].summa"
    assert err.message == "expected 15000 (= round(price_piece_bez_skidki 5000 × kolvo 3) − skidka 0), got 14000"


def test_summa_rule_with_discount_and_fraction() -> None:
    # round(999 × 1.255) = round(1253.745) = 1254; − 54 = 1200.
    r = base()
    set_line(r, price_piece_bez_skidki=999, kolvo="1.255", skidka=54, price_piece=956, summa=1200)
    assert parse_receipt(r, today=TODAY)
    set_line(r, summa=1202)
    err = error_of(r)
    assert (err.path, err.message) == (
        "products_arr[0].summa",
        "expected 1200 (discount per line: round(price_piece_bez_skidki 999 × kolvo 1.255) − skidka 54) "
        "or 1186 (discount per unit: round((price_piece_bez_skidki 999 − skidka 54) × kolvo 1.255)), got 1202",
    )


def test_rounding_is_half_up() -> None:
    # 5 × 0.5 = 2.5 -> 3 (half up), so summa 2 is within 1 and summa 4 too; 1 is not.
    r = base()
    set_line(r, price_piece_bez_skidki=5, kolvo="0.5", price_piece=5, summa=1)
    err = error_of(r)
    assert err.message == "expected 3 (= round(price_piece_bez_skidki 5 × kolvo 0.5) − skidka 0), got 1"


def test_discount_larger_than_the_line() -> None:
    err = error_of(mutated(lambda r: set_line(r, skidka=15001, summa=0)))
    assert (err.path, err.message) == (
        "products_arr[0].skidka",
        "expected at most 15000 (= round(price_piece_bez_skidki 5000 × kolvo 3)), got 15001",
    )


def test_price_piece_rule() -> None:
    # 3 pieces: price_piece × 3 must be within ceil(3) = 3 kopecks of summa 15000.
    assert parse_receipt(mutated(lambda r: prod(r).update(price_piece=5001)), today=TODAY)
    err = error_of(mutated(lambda r: prod(r).update(price_piece=5002)))
    assert err.path == "products_arr[0].price_piece"
    assert err.message == (
        "expected price_piece × kolvo 3 within 3 kopecks of summa 15000 (price_piece ≈ 5000), got 5002 "
        "(× kolvo = 15006)"
    )


def test_price_piece_tolerance_is_ceil_of_kolvo() -> None:
    # kolvo 0.3: tolerance ceil(0.3) = 1 kopeck. summa 300: price 1000 -> 300.0 ok; 1004 -> 301.2 off by 1.2.
    r = base()
    set_line(r, price_piece_bez_skidki=1000, kolvo="0.3", price_piece=1003, summa=300)
    assert parse_receipt(r, today=TODAY)
    set_line(r, price_piece=1004)
    err = error_of(r)
    assert err.path == "products_arr[0].price_piece"
    assert err.message.startswith("expected price_piece × kolvo 0.3 within 1 kopeck of summa 300")


def test_itog_is_the_exact_sum_of_lines() -> None:
    r = base()
    r["products_arr"].append(dict(prod(r)))
    r["oplata_arr"]["money_electro"] = 29999
    r["itog_arr"]["itog_cheka"] = 29999
    err = error_of(r)
    assert (err.path, err.message) == (
        "itog_arr.itog_cheka",
        "expected 30000 (= Σ products_arr[].summa: 15000 + 15000), got 29999",
    )


def test_payments_add_up_to_itog_exactly() -> None:
    err = error_of(mutated(lambda r: r["oplata_arr"].update(money_nal=1)))
    assert err.path == "oplata_arr"
    assert err.message == (
        "expected the payments to add up to itog_cheka 15000, got 15001 (= money_nal 1 + money_electro 15000 + "
        "money_predoplata 0 + money_postoplata 0 + money_vstrecha 0)"
    )
    split = mutated(
        lambda r: r["oplata_arr"].update(
            money_nal=5000, money_electro=4000, money_predoplata=3000, money_postoplata=2000, money_vstrecha=1000
        )
    )
    assert parse_receipt(split, today=TODAY).oplata_arr.money_total == 15000


def test_error_order_is_the_first_broken_rule() -> None:
    # products come before the totals: a bad line is reported, not the then-wrong total.
    r = base()
    r["products_arr"].append(dict(prod(r), summa=1))
    err = error_of(r)
    assert err.path == "products_arr[1].summa"


# --------------------------------------------------------------------------- contacts, INN, agents


def test_email_required_and_well_formed() -> None:
    err = error_of(mutated(lambda r: r["oplata_arr"].update(client_email="")))
    assert (err.path, err.message) == ("oplata_arr.client_email", 'required when check_send_type is "email"')
    err = error_of(mutated(lambda r: r["oplata_arr"].update(client_email="secret.buyer-at-example.com")))
    assert (err.path, err.message) == (
        "oplata_arr.client_email",
        "expected an e-mail address like name@example.com, got a 27-character string",
    )
    assert "secret.buyer" not in str(err)  # personal data never echoed (error texts reach logs)


def test_phone_required_and_well_formed() -> None:
    def to_phone(r: dict[str, Any], phone: str) -> None:
        r.update(check_send_type="phone")
        r["oplata_arr"].update(client_email="", client_phone=phone)

    err = error_of(mutated(lambda r: to_phone(r, "")))
    assert (err.path, err.message) == ("oplata_arr.client_phone", 'required when check_send_type is "phone"')
    err = error_of(mutated(lambda r: to_phone(r, "8-999-12")))
    assert (err.path, err.message) == (
        "oplata_arr.client_phone",
        "expected a phone number of 10 to 15 digits like +79991234567, got a 8-character string",
    )
    receipt = parse_receipt(mutated(lambda r: to_phone(r, "+7 (999) 123-45-67")), today=TODAY)
    assert receipt.customer_contact == "+7 (999) 123-45-67"


def test_none_send_type_needs_no_contact() -> None:
    r = mutated(lambda r: (r.update(check_send_type="none"), r["oplata_arr"].update(client_email="")))
    assert parse_receipt(r, today=TODAY).customer_contact is None


@pytest.mark.parametrize("field", ["kassir_inn", "inn_pokupatel"])
@pytest.mark.parametrize("value", ["123", "12345678901", "77070838930a", 123456789])
def test_inn_format(field: str, value: Any) -> None:
    err = error_of(mutated(lambda r: r["oplata_arr"].update({field: value})))
    assert err.path == f"oplata_arr.{field}"
    assert err.message.startswith("expected an INN of 10 or 12 digits, got a ")


@pytest.mark.parametrize("value", ["7707083893", "500100732259", 7707083893, ""])
def test_inn_accepted(value: Any) -> None:
    receipt = parse_receipt(mutated(lambda r: r["oplata_arr"].update(kassir_inn=value)), today=TODAY)
    assert receipt.oplata_arr.kassir_inn == str(value)


AGENT_FULL = {
    "operation_plat_agenta": "transfer",
    "phone_oper_perevoda": "+74951234567",
    "name_oper_perevoda": "Operator",
    "address_oper_perevoda": "Moscow",
    "inn_oper_perevoda": "7707083893",
    "phone_oper_priem_plat": "+74957654321",
    "phone_postavshika": "+79161234567",
    "name_postavshika": "Supplier",
}


@pytest.mark.parametrize(
    ("sign", "missing", "name"),
    [
        (0, "operation_plat_agenta", "bank paying agent"),
        (1, "inn_oper_perevoda", "bank paying subagent"),
        (2, "phone_oper_priem_plat", "paying agent"),
        (3, "phone_oper_priem_plat", "paying subagent"),
        (4, "name_postavshika", "attorney"),
        (5, "phone_postavshika", "commission agent"),
        (6, "name_postavshika", "other agent"),
    ],
)
def test_agent_fields_required_by_sign(sign: int, missing: str, name: str) -> None:
    r = mutated(lambda r: prod(r).update(AGENT_FULL, priznak_agenta=sign))
    assert parse_receipt(r, today=TODAY).products_arr[0].priznak_agenta == sign
    prod(r)[missing] = ""
    err = error_of(r)
    assert err.path == f"products_arr[0].{missing}"
    assert err.message.endswith(f"when priznak_agenta is {sign} ({name})")


def test_agent_field_formats() -> None:
    err = error_of(mutated(lambda r: prod(r).update(AGENT_FULL, priznak_agenta=0, inn_oper_perevoda="123")))
    assert err.path == "products_arr[0].inn_oper_perevoda"
    assert err.message.startswith("expected an INN of 10 or 12 digits")
    err = error_of(mutated(lambda r: prod(r).update(AGENT_FULL, priznak_agenta=5, phone_postavshika="call me")))
    assert err.path == "products_arr[0].phone_postavshika"
    assert err.message == "expected a phone number of 10 to 15 digits like +79991234567, got 'call me' (string)"


def test_agent_strings_ignored_without_agent_sign() -> None:
    r = mutated(lambda r: prod(r).update(name_postavshika="Somebody", inn_oper_perevoda=""))
    assert parse_receipt(r, today=TODAY).products_arr[0].priznak_agenta is None


def test_token_is_never_echoed() -> None:
    err = error_of(mutated(lambda r: r.update(kassatoken=["secret-token-value"])))
    assert (err.path, err.message) == ("kassatoken", "expected a string, got an array")
    err = error_of(mutated(lambda r: r.update(kassatoken="")))
    assert (err.path, err.message) == ("kassatoken", "must not be empty")
    receipt = parse_receipt(mutated(lambda r: r.update(kassatoken="secret-token-value")), today=TODAY)
    assert "secret-token-value" not in repr(receipt)
    assert "buyer@example.com" not in repr(receipt)


# --------------------------------------------------------------------------- wire form


def test_wire_round_trip_and_stored_form() -> None:
    receipt = parse_receipt(base(), today=TODAY)
    wire = receipt.to_wire()
    assert Receipt.from_wire(wire) == receipt
    assert Receipt.from_wire(json.loads(json.dumps(wire))).to_wire() == wire
    stored = receipt.to_wire(include_token=False)
    assert "kassatoken" not in stored
    assert Receipt.from_wire(stored) == dataclasses.replace(receipt, kassatoken="")
    with pytest.raises(ReceiptError):
        parse_receipt(stored, today=TODAY)  # a live receipt needs its token


def test_canonical_bytes_ignore_encoding_and_order() -> None:
    a = base()
    b = copy.deepcopy(a)
    prod(b).update(price_piece_bez_skidki="5000", kolvo=3.0, summa="15000")
    b = dict(reversed(list(b.items())))
    b["kassatoken"] = "another token"
    ra, rb = parse_receipt(a, today=TODAY), parse_receipt(b, today=TODAY)
    assert ra.canonical_bytes() == rb.canonical_bytes()
    assert b"token" not in ra.canonical_bytes()
    c = mutated(lambda r: prod(r).update(name_tovar="Coffee"))
    assert parse_receipt(c, today=TODAY).canonical_bytes() != ra.canonical_bytes()


WIRE_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    # kolvo, the only float of a wire receipt: > 0, at most 3 decimals, at most 99999999.999
    | st.integers(1, 99_999_999_999).map(lambda n: n / 1000)
    | st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
)
WIRE_VALUES = st.recursive(
    WIRE_LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=20,
)


@settings(max_examples=examples(500), deadline=None)
@given(st.dictionaries(st.text(max_size=8), WIRE_VALUES, max_size=6))
def test_canonical_json_is_the_stdlib_form(wire: dict[str, Any]) -> None:
    # Hashes stored before canonical_json used msgspec were of this form: they stay comparable.
    expected = json.dumps(wire, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    assert canonical_json(wire) == expected


def test_stored_form_is_the_tokenless_wire_and_its_canonical_hash() -> None:
    receipt = parse_receipt(base(), today=TODAY)
    text, digest = receipt.stored_form()
    assert json.loads(text) == receipt.to_wire(include_token=False)
    assert digest == hashlib.sha256(receipt.canonical_bytes()).hexdigest()


def test_error_is_picklable_and_a_value_error() -> None:
    import pickle

    err = error_of(mutated(lambda r: set_line(r, summa=14000)))
    again = pickle.loads(pickle.dumps(err))  # noqa: S301 - our own object
    assert (again.path, again.message) == (err.path, err.message)
    assert isinstance(err, ValueError)


# --------------------------------------------------------------------------- properties


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(receipts_wire(TODAY))
def test_generated_receipts_are_accepted_and_round_trip(obj: dict[str, Any]) -> None:
    receipt = parse_receipt(obj, today=TODAY)
    wire = receipt.to_wire()
    assert Receipt.from_wire(wire) == receipt
    assert parse_receipt(json.loads(json.dumps(wire)), today=TODAY) == receipt
    assert Receipt.from_wire(wire).to_wire() == wire
    assert receipt.total == sum(p.summa for p in receipt.products_arr) == receipt.oplata_arr.money_total


@settings(max_examples=examples(200), deadline=None)
@given(receipts_wire(TODAY), st.data())
def test_a_mutated_line_sum_is_rejected_naming_its_path(obj: dict[str, Any], data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(obj["products_arr"]) - 1))
    summa = int(float(obj["products_arr"][i]["summa"]))
    delta = data.draw(st.integers(3, 10_000))  # the generator may already be 1 kopeck off
    obj["products_arr"][i]["summa"] = summa + delta
    err = error_of(obj)
    assert err.path in (f"products_arr[{i}].summa", f"products_arr[{i}].price_piece")
    if err.path.endswith(".summa"):
        assert err.message.startswith("expected ")
        assert err.message.endswith(f", got {summa + delta}")


@settings(max_examples=examples(200), deadline=None)
@given(receipts_wire(TODAY), st.integers(1, 10_000), st.booleans())
def test_a_mutated_total_is_rejected_naming_its_path(obj: dict[str, Any], delta: int, payments: bool) -> None:
    if payments:
        obj["oplata_arr"]["money_vstrecha"] = int(float(obj["oplata_arr"]["money_vstrecha"])) + delta
        assert error_of(obj).path == "oplata_arr"
    else:
        obj["itog_arr"]["itog_cheka"] += delta
        err = error_of(obj)
        assert err.path == "itog_arr.itog_cheka"
        assert err.message.endswith(f", got {obj['itog_arr']['itog_cheka']}")


# --------------------------------------------------------------------------- fuzz: never anything but ReceiptError

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**50), max_value=10**50)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=50)
    | st.sampled_from(["", "none", "1", "1.5", "-1", "1e3", "0.0001", "9" * 60, "a\ud800", "\x00", "2025-13-01"])
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _assert_parses_or_refuses(obj: Any) -> None:
    try:
        receipt = parse_receipt(obj, today=TODAY)
    except ReceiptError as err:
        assert err.path and err.message
        str(err).encode("utf-8")  # printable in logs
        return
    receipt.canonical_bytes()
    assert Receipt.from_wire(receipt.to_wire()) == receipt


@settings(max_examples=examples(300), deadline=None)
@given(JSON_VALUES)
def test_any_json_value_is_parsed_or_refused(obj: Any) -> None:
    _assert_parses_or_refuses(obj)


@settings(max_examples=examples(500), deadline=None)
@given(receipts_wire(TODAY, max_products=3), st.data(), JSON_VALUES, st.booleans())
def test_any_field_replaced_is_parsed_or_refused(
    obj: dict[str, Any], data: st.DataObject, value: Any, delete: bool
) -> None:
    containers: list[dict[str, Any]] = [obj, obj["oplata_arr"], obj["itog_arr"], *obj["products_arr"]]
    if "korr_arr" in obj:
        containers.append(obj["korr_arr"])
    target = data.draw(st.sampled_from(containers))
    key = data.draw(st.sampled_from(sorted(target)))
    if delete:
        del target[key]
    else:
        target[key] = value
    _assert_parses_or_refuses(obj)


def test_lone_surrogates_and_huge_numbers_are_refused_cleanly() -> None:
    err = error_of(mutated(lambda r: prod(r).update(name_tovar="tea \ud800")))
    assert (err.path, err.message) == (
        "products_arr[0].name_tovar",
        "invalid Unicode: a lone surrogate (\\ud800-\\udfff) is not a character",
    )
    err = error_of(mutated(lambda r: prod(r).update(stavka_nds=10**5000)))
    assert (err.path, err.message) == (
        "products_arr[0].stavka_nds",
        "expected a VAT code (tag 1199) from 1 to 12 (an integer), got a number of more than 40 digits",
    )
    err = error_of(mutated(lambda r: r.update(products_arr={"9" * 5000: prod(r)})))
    assert (err.path, err.message) == ("products_arr", "expected an array of products, got an object")


# --------------------------------------------------------------------------- existing clients


FALSE_AGENT_STRINGS = {
    "phone_oper_perevoda": False,
    "operation_plat_agenta": False,
    "phone_oper_priem_plat": False,
    "name_oper_perevoda": False,
    "address_oper_perevoda": False,
    "inn_oper_perevoda": False,
    "phone_postavshika": False,
    "name_postavshika": False,
}


@pytest.mark.parametrize("agent", [40, "40", 40.0, " 40 ", "none", "NONE", ""])
def test_not_an_agent_ignores_the_agent_strings_whatever_they_hold(agent: Any) -> None:
    junk = dict(FALSE_AGENT_STRINGS, inn_oper_perevoda=12, name_postavshika=["x"], phone_postavshika="x" * 500)
    receipt = parse_receipt(mutated(lambda r: prod(r).update(junk, priznak_agenta=agent)), today=TODAY)
    line = receipt.products_arr[0]
    assert line.priznak_agenta is None
    assert (line.inn_oper_perevoda, line.name_postavshika, line.phone_postavshika) == ("", "", "")
    assert line.to_wire()["priznak_agenta"] == "none"


def test_agent_sign_still_checks_the_agent_strings() -> None:
    err = error_of(mutated(lambda r: prod(r).update(FALSE_AGENT_STRINGS, priznak_agenta=4)))
    assert (err.path, err.message) == ("products_arr[0].phone_oper_perevoda", "expected a string, got false")
    err = error_of(mutated(lambda r: prod(r).update(priznak_agenta=41)))
    assert err.path == "products_arr[0].priznak_agenta"


def test_price_before_discount_and_discount_are_optional() -> None:
    r = base()
    del prod(r)["price_piece_bez_skidki"]
    del prod(r)["skidka"]
    line = parse_receipt(r, today=TODAY).products_arr[0]
    assert (line.price_piece_bez_skidki, line.skidka, line.summa) == (5000, 0, 15000)


def test_discount_per_unit_as_the_plugin_sends_it() -> None:
    # 3 × (150.00 − 30.00) = 360.00: skidka 3000 is per unit.
    r = base()
    set_line(r, price_piece_bez_skidki=15000.0, skidka=3000.0, kolvo=3, price_piece=12000.0, summa=36000.0)
    line = parse_receipt(r, today=TODAY).products_arr[0]
    assert (line.skidka, line.summa) == (3000, 36000)


def test_discount_per_line_as_the_documentation_gives_it() -> None:
    r = base()
    set_line(r, price_piece_bez_skidki=10000, skidka=1000, kolvo=3, price_piece=9667, summa=29000)
    assert parse_receipt(r, today=TODAY).products_arr[0].summa == 29000


def test_discount_per_unit_on_a_fraction_of_a_unit() -> None:
    # kolvo 0.5: a per-unit skidka 600 is over the line's gross 500 but not over the unit price.
    r = base()
    set_line(r, price_piece_bez_skidki=1000, skidka=600, kolvo="0.5", price_piece=400, summa=200)
    assert parse_receipt(r, today=TODAY).products_arr[0].summa == 200
    set_line(r, skidka=1001, price_piece=0, summa=0)
    err = error_of(r)
    assert (err.path, err.message) == (
        "products_arr[0].skidka",
        "expected at most 1000 (= price_piece_bez_skidki, a discount per unit), got 1001",
    )


def test_summa_matching_neither_discount_reading_names_both() -> None:
    r = base()
    set_line(r, price_piece_bez_skidki=15000, skidka=3000, kolvo=3, price_piece=13333, summa=40000)
    err = error_of(r)
    assert (err.path, err.message) == (
        "products_arr[0].summa",
        "expected 42000 (discount per line: round(price_piece_bez_skidki 15000 × kolvo 3) − skidka 3000) "
        "or 36000 (discount per unit: round((price_piece_bez_skidki 15000 − skidka 3000) × kolvo 3)), got 40000",
    )
    # skidka over the unit price: only the per-line reading exists, and the message says so.
    set_line(r, price_piece_bez_skidki=1000, skidka=1500, kolvo=3, price_piece=500, summa=1400)
    err = error_of(r)
    assert err.message == (
        "expected 1500 (discount per line: round(price_piece_bez_skidki 1000 × kolvo 3) − skidka 1500) "
        "or nothing with the discount per unit (skidka 1500 is over price_piece_bez_skidki 1000), got 1400"
    )


CORRECTED_UNIX = int(dt.datetime(2025, 12, 1, tzinfo=dt.timezone(dt.timedelta(hours=3))).timestamp())


def ffd105(**korr: Any) -> dict[str, Any]:
    r = base()
    del r["products_arr"], r["oplata_arr"]
    r["check_send_type"] = "none"
    r["itog_arr"] = {"priznak_rascheta": 1, "itog_cheka": 12000}
    r["korr_arr"] = {
        "type_korr": "0",
        "fio_upolnomoch": "Ivanova A. A.",
        "inn_upolnomoch": "7707083893",
        "rezhim_nalog": "0",
        "money_nal": 12000,
        "money_nds_20": 2000,
        "money_bez_nds": 0,
        "name_doc_korr": "Act",
        "date_doc_korr": CORRECTED_UNIX,
        "numb_doc_korr": "17",
        **korr,
    }
    return r


def test_ffd_105_correction_without_lines() -> None:
    receipt = parse_receipt(ffd105(), today=TODAY)
    assert (receipt.correction_form, receipt.is_correction, receipt.products_arr) == ("ffd105", True, ())
    assert receipt.korr_arr == Correction(
        type_korr=0,
        date_doc_korr=dt.date(2025, 12, 1),
        numb_doc_korr="17",
        name_doc_korr="Act",
        fio_upolnomoch="Ivanova A. A.",
        inn_upolnomoch="7707083893",
        vat_amounts=(("money_nds_20", 2000), ("money_bez_nds", 0)),
    )
    assert (receipt.oplata_arr.rezhim_nalog, receipt.oplata_arr.money_nal) == (0, 12000)
    wire = receipt.to_wire()
    assert wire["products_arr"] == [] and wire["korr_arr"]["money_nds_20"] == 2000
    assert Receipt.from_wire(wire) == receipt
    assert Receipt.from_wire(json.loads(json.dumps(wire))).to_wire() == wire


def test_ffd_105_correction_rules() -> None:
    err = error_of(ffd105(money_nds_20=None, money_bez_nds=None))
    assert err.path == "korr_arr" and err.message.startswith("a correction without products_arr needs its amounts")
    err = error_of(ffd105(money_nal=11999))
    assert err.path == "oplata_arr" and "got 11999" in err.message
    err = error_of(ffd105(money_nal="12.00"))
    assert err.path == "korr_arr.money_nal"
    err = error_of(ffd105(money_nds_20=12001))
    assert (err.path, err.message) == ("korr_arr.money_nds_20", "expected at most itog_arr.itog_cheka 12000, got 12001")
    later = int(dt.datetime(2026, 2, 2, tzinfo=dt.UTC).timestamp())
    err = error_of(ffd105(date_doc_korr=later))
    assert err.path == "korr_arr.money_nds_20"
    assert err.message.startswith("VAT rate 20% is valid until 2026-01-04, not on the corrected settlement's date 2026")
    assert parse_receipt(ffd105(date_doc_korr=later, money_nds_20=None, money_nds_22=2164), today=TODAY)
    err = error_of(ffd105(date_doc_korr="yesterday"))
    assert err.path == "korr_arr.date_doc_korr" and err.message.startswith("expected a date: unix seconds")
    err = error_of(ffd105(date_doc_korr=None))
    assert err.path == "korr_arr.date_doc_korr" and err.message.startswith("required on a correction")
    err = error_of(ffd105(rezhim_nalog=None))
    assert err.path == "korr_arr.rezhim_nalog"
    err = error_of(ffd105(type_korr="1", numb_doc_korr=""))
    assert (err.path, err.message) == ("korr_arr.numb_doc_korr", "required when type_korr is 1 (correction by order)")


def test_korr_date_forms() -> None:
    for value in (CORRECTED_UNIX, str(CORRECTED_UNIX), float(CORRECTED_UNIX), "2025-12-01", "01.12.2025"):
        assert parse_receipt(ffd105(date_doc_korr=value), today=TODAY).korr_arr.date_doc_korr == dt.date(2025, 12, 1)
    for value in (True, -1, 1.5, "1e9", "9" * 41, [CORRECTED_UNIX]):
        assert error_of(ffd105(date_doc_korr=value)).path == "korr_arr.date_doc_korr"


def test_ffd_12_correction_with_the_payment_split_in_korr_arr() -> None:
    r = base()
    set_line(r, stavka_nds=1)  # 20 %: valid on the corrected date
    del r["oplata_arr"]
    r["check_send_type"] = "none"
    r["korr_arr"] = {"type_korr": 1, "date_doc_korr": str(CORRECTED_UNIX), "num_doc_korr": "77-1",
                     "rezhim_nalog": 2, "money_electro": 15000}
    receipt = parse_receipt(r, today=TODAY)
    assert receipt.correction_form == "ffd12"
    assert (receipt.oplata_arr.rezhim_nalog, receipt.oplata_arr.money_electro) == (2, 15000)
    assert receipt.korr_arr is not None and receipt.korr_arr.numb_doc_korr == "77-1"
    # korr_arr's split replaces oplata_arr's whole split, not field by field
    r["oplata_arr"] = {"rezhim_nalog": 1, "money_nal": 15000}
    assert parse_receipt(r, today=TODAY).oplata_arr.money_nal == 0


@pytest.mark.parametrize("sign", [2, 4])
def test_return_with_its_basis_document_is_not_a_correction(sign: int) -> None:
    korr = {"name_doc_korr": "Order", "date_doc_korr": "1772454600", "num_doc_korr": 1001}
    r = mutated(lambda r: (r.update(korr_arr=korr), r["itog_arr"].update(priznak_rascheta=sign)))
    receipt = parse_receipt(r, today=TODAY)
    assert (receipt.correction_form, receipt.is_correction, receipt.is_return) == ("basis", False, True)
    assert receipt.korr_arr == Correction(
        type_korr=None, date_doc_korr=dt.date(2026, 3, 2), numb_doc_korr="1001", name_doc_korr="Order"
    )
    assert "type_korr" not in receipt.to_wire()["korr_arr"]
    assert Receipt.from_wire(receipt.to_wire()) == receipt
    # only a correction's korr_arr carries the payment split
    korr["money_nal"] = 1
    assert parse_receipt(r, today=TODAY).oplata_arr.money_nal == 0


def test_korr_arr_without_type_on_a_sale_is_refused_and_empty_ones_are_absent() -> None:
    err = error_of(mutated(lambda r: r.update(korr_arr={"num_doc_korr": "1"})))
    assert err.path == "korr_arr.type_korr"
    assert err.message.endswith("(itog_arr.priznak_rascheta 2 or 4), got priznak_rascheta 1")
    for empty in ([], {}, "", False, None):
        assert parse_receipt(mutated(lambda r, e=empty: r.update(korr_arr=e)), today=TODAY).korr_arr is None
