import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kassagate.processing.mapping import format_doc_time, receipt_to_document
from support.profiles import examples

ACCEPTED_US = 1_780_000_000_123_456  # 2026-05-28 20:26:40 UTC


def receipt(sign: int = 1, **pay: Any) -> dict[str, Any]:
    payments = {"money_nal": 0, "money_electro": 0, "money_predoplata": 0, "money_postoplata": 0, "money_vstrecha": 0}
    payments.update(pay or {"money_electro": 25001})
    return {
        "kassaid": "1001",
        "kassatoken": "t",
        "cms": "wordpress",
        "check_send_type": "email",
        "products_arr": [
            {
                "name_tovar": "Tea",
                "price_piece_bez_skidki": 10000,
                "kolvo": 2,
                "skidka": 500,
                "price_piece": 9750,
                "summa": 19500,
                "stavka_nds": 11,
                "priznak_sposoba_rascheta": 4,
                "priznak_predmeta_rascheta": 1,
                "priznak_agenta": "none",
            },
            {
                "name_tovar": "Sugar",
                "price_piece_bez_skidki": 3667,
                "kolvo": "1.5",
                "skidka": 0,
                "price_piece": 3667,
                "summa": 5501,
                "stavka_nds": 6,
                "priznak_sposoba_rascheta": 4,
                "priznak_predmeta_rascheta": 1,
                "priznak_agenta": 2,
                "mera_kolva_predmeta_rasheta": "11",
            },
        ],
        "oplata_arr": {
            "rezhim_nalog": 1,
            "kassir_fio": "Ivanova",
            "client_email": "a@b.ru",
            "client_phone": "",
            **payments,
        },
        "itog_arr": {"priznak_rascheta": sign, "itog_cheka": 25001},
    }


def test_sale_maps_items_taxes_and_identity() -> None:
    doc = receipt_to_document(receipt(), nuid="1" * 23, accepted_at_us=ACCEPTED_US)
    assert doc.endpoint == "sale"
    b = doc.body
    assert (b["documentExtID"], b["docNumber"], b["amount"]) == ("1" * 23, "1" * 23, 25001)
    assert b["docTime"] == "2026-05-28 20:26:40"
    assert b["settlementSign"] == 1 and b["taxSystem"] == 1
    tea, sugar = b["items"]
    assert tea["itemQty"] == 2000 and tea["itemAmount"] - tea["discount"] == 19500
    assert tea["itemTaxes"] == [{"taxCode": 11, "taxName": "22%", "calcType": 1, "vatCode": 11, "taxPrc": 2200}]
    assert sugar["itemQty"] == 1500 and sugar["itemTaxes"] == [] and sugar["agentSign"] == 2
    assert sugar["measureUnit"] == 11
    # Sum of the lines equals the document amount, whatever the one-kopeck rounding allowance did.
    assert sum(i["itemAmount"] - i["discount"] for i in b["items"]) == b["amount"]
    assert b["payments"]["cashlessAmount"] == 25001 and b["clientEmail"] == "a@b.ru"
    assert "clientPhone" not in b and "prepaymentExternal" not in b
    assert doc.identity == {k: b[k] for k in ("documentExtID", "docTime", "docNumber", "amount")}


@pytest.mark.parametrize(("sign", "endpoint"), [(1, "sale"), (2, "refund"), (3, "sale"), (4, "refund")])
def test_every_settlement_sign_has_its_endpoint(sign: int, endpoint: str) -> None:
    doc = receipt_to_document(receipt(sign), nuid="2" * 23, accepted_at_us=ACCEPTED_US)
    assert (doc.endpoint, doc.body["settlementSign"]) == (endpoint, sign)
    assert "parentDocID" not in doc.body  # a cloud return is a standalone return receipt


def test_every_payment_form_has_its_payment_kind() -> None:
    doc = receipt_to_document(
        receipt(money_nal=1, money_electro=2, money_predoplata=3, money_postoplata=4, money_vstrecha=24991),
        nuid="3" * 23,
        accepted_at_us=ACCEPTED_US,
    )
    assert doc.body["payments"] == {
        "cashAmount": 1,
        "cashlessAmount": 2,
        "prepaymentAmount": 3,
        "creditAmount": 4,
        "bonusesAmount": 24991,
    }
    assert doc.body["prepaymentExternal"] is True


def test_vending_fields_are_carried() -> None:
    r = receipt()
    r.update(check_vend_address="Moscow, Tverskaya 1", check_vend_mesto="Hall", check_vend_num_avtovat="A-17")
    b = receipt_to_document(r, nuid="4" * 23, accepted_at_us=ACCEPTED_US).body
    assert (b["vendAddress"], b["vendPlace"], b["vendMachineNumber"]) == ("Moscow, Tverskaya 1", "Hall", "A-17")


def test_doc_time_is_stable_for_a_request() -> None:
    assert format_doc_time(ACCEPTED_US) == format_doc_time(ACCEPTED_US + 1)
    assert format_doc_time(ACCEPTED_US) == "2026-05-28 20:26:40"


@settings(max_examples=examples(500))
@given(st.integers(0, 4_102_444_800_000_000 - 1))  # up to 2100
def test_doc_time_is_the_acceptance_second_in_utc(accepted_us: int) -> None:
    """The same text as before it was cached per second (a resend must carry the docTime
    that the first send did), including the last microsecond of a second."""
    expected = dt.datetime.fromtimestamp(accepted_us / 1_000_000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert format_doc_time(accepted_us) == expected
    last = (accepted_us // 1_000_000) * 1_000_000 + 999_999
    assert format_doc_time(last) == format_doc_time(accepted_us)


def test_correction_receipt_becomes_a_correction_document() -> None:
    r = receipt(money_nal=25001)
    r["korr_arr"] = {"tip_korr": 1, "data_korr": "2026-03-02", "nomer_predpisaniya": "77-15"}
    doc = receipt_to_document(r, nuid="5" * 23, accepted_at_us=ACCEPTED_US)
    assert doc.endpoint == "correction"
    b = doc.body
    assert (b["date_start"], b["date_stop"], b["correctionType"], b["orderNumber"]) == (
        "2026-03-02",
        "2026-03-02",
        1,
        "77-15",
    )
    assert b["cashAmount"] == 25001 and b["amount"] == 25001
    # 22 % inside 19500 is 3516.39 -> 3516; the line without VAT adds nothing.
    assert b["vatAmounts"] == [{"vatPercent": 2200, "vatSum": 3516}]
    assert doc.identity["documentExtID"] == "5" * 23


def test_discount_per_unit_or_per_line_reaches_the_register_as_the_line_discount() -> None:
    r = receipt()
    tea = r["products_arr"][0]
    # Per unit (the vendor's plugin): 2 × (100.00 − 2.50) = 195.00, skidka 250 per unit.
    tea.update(skidka=250)
    item = receipt_to_document(r, nuid="6" * 23, accepted_at_us=ACCEPTED_US).body["items"][0]
    assert (item["itemAmount"], item["discount"]) == (20000, 500)
    # Per line (the documentation): skidka 500 for the line; the same document.
    tea.update(skidka=500)
    item = receipt_to_document(r, nuid="6" * 23, accepted_at_us=ACCEPTED_US).body["items"][0]
    assert (item["itemAmount"], item["discount"]) == (20000, 500)
    # No price before discount (scripts): the line's price.
    del tea["price_piece_bez_skidki"]
    tea.update(skidka=0, price_piece=9750)
    item = receipt_to_document(r, nuid="6" * 23, accepted_at_us=ACCEPTED_US).body["items"][0]
    assert (item["itemAmount"], item["discount"]) == (19500, 0)


def test_ffd_105_correction_sends_its_vat_amounts() -> None:
    r = receipt(money_nal=25001)
    r["products_arr"] = []
    r["korr_arr"] = {
        "type_korr": 0,
        "date_doc_korr": "2025-12-01",
        "numb_doc_korr": "",
        "name_doc_korr": "Act",
        "fio_upolnomoch": "Petrov",
        "inn_upolnomoch": "7707083893",
        "money_nds_20": 2000,
        "money_nds_20_120": 500,
        "money_nds_10": 100,
        "money_nds_0": 3000,
        "money_bez_nds": 4000,
    }
    doc = receipt_to_document(r, nuid="7" * 23, accepted_at_us=ACCEPTED_US)
    assert doc.endpoint == "correction"
    b = doc.body
    assert (b["date_start"], b["date_stop"], b["correctionType"], b["amount"], b["cashAmount"]) == (
        "2025-12-01",
        "2025-12-01",
        0,
        25001,
        25001,
    )
    # 20 % and 20/120 are one register percent; 0 % and without VAT carry no VAT.
    assert b["vatAmounts"] == [{"vatPercent": 1000, "vatSum": 100}, {"vatPercent": 2000, "vatSum": 2500}]
    assert (b["employeeName"], b["employeeInn"]) == ("Petrov", "7707083893")
    assert "orderNumber" not in b


@pytest.mark.parametrize("sign", [2, 4])
def test_return_naming_its_basis_document_is_a_refund(sign: int) -> None:
    r = receipt(sign)
    r["korr_arr"] = {"date_doc_korr": "2026-03-02", "numb_doc_korr": "1001", "name_doc_korr": "Order"}
    doc = receipt_to_document(r, nuid="8" * 23, accepted_at_us=ACCEPTED_US)
    assert (doc.endpoint, doc.body["settlementSign"]) == ("refund", sign)
    assert "correctionType" not in doc.body and "orderNumber" not in doc.body
