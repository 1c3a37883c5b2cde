"""Existing clients of the protocol against a running kassagate (``docs/front.md``, "Existing clients").

Each test sends the exact shape a known client sends (the vendor's WooCommerce plugin, a
PHP class, a TypeScript shop integration, a Python script, the protocol's documentation),
encrypted as those clients do, through HTTP, follows it to the fiscal data in the
register's journal, and checks the answers against the client's own acceptance rules:

- a send is accepted when ``status`` is ``"success"`` and ``nuid`` and ``qnuid`` are
  non-empty;
- a status is good only when ``status_code`` and ``error_code`` are both present and
  ``"000"`` or empty, and ``check_status`` is present;
- the QR picture is read from ``check_qr_code_img_b64`` by cutting off its ``data:`` prefix.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from typing import Any

import httpx
import pytest
import zxingcpp
from PIL import Image

from conftest import DEBUG_KASSA, Installation, token_of
from kassagate.core.tables import VAT_RATES

MSK = dt.timezone(dt.timedelta(hours=3))
TODAY = dt.datetime.now(MSK).date()
#: A VAT code valid on every settlement date (10 %), and one not valid today.
VAT_ALWAYS = 2
VAT_NOT_TODAY = next(code for code, rate in VAT_RATES.items() if not rate.valid_on(TODAY))
#: A past settlement date on which 20 % was the standard rate, as unix seconds (Moscow midnight).
CORRECTED_DAY = dt.date(2025, 12, 1)
CORRECTED_UNIX = int(dt.datetime(2025, 12, 1, tzinfo=MSK).timestamp())


# ----------------------------------------------------------------------- the clients' rules


def send_accepted(answer: dict[str, Any]) -> bool:
    """The clients' rule for a send: ``status`` "success" with ``nuid`` and ``qnuid``."""
    return answer.get("status") == "success" and bool(answer.get("nuid")) and bool(answer.get("qnuid"))


def status_good(st: dict[str, Any]) -> bool:
    """The PHP class's and the plugin's rule for a status answer."""
    return (
        "status_code" in st
        and "error_code" in st
        and st["status_code"] in ("000", "")
        and st["error_code"] in ("000", "")
        and "check_status" in st
    )


def qr_png_from_b64(st: dict[str, Any]) -> bytes:
    """How clients read the picture: cut off the ``data:…;base64,`` prefix, decode the rest."""
    return base64.b64decode(st["check_qr_code_img_b64"].split(",", 1)[1])


def qr_text(png: bytes) -> str:
    [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)), formats=zxingcpp.BarcodeFormat.QRCode)
    return str(code.text)


def fiscalize(kg: Installation, receipt: dict[str, Any], **layer2: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Send as the client does, check the client takes the answer as accepted, and poll the
    status until it is final; return (send answer, final status)."""
    answer = kg.send(receipt, **layer2)
    assert send_accepted(answer), answer
    st = kg.wait_final(answer["nuid"], answer["qnuid"])
    assert st["check_status"] == 1, st
    assert status_good(st), st
    return answer, st


# ----------------------------------------------------------------------- receipt shapes


def plugin_line(name: str, before: int, after: int, qty: int, vat: int = VAT_ALWAYS) -> dict[str, Any]:
    """A line as the vendor's WooCommerce plugin builds it: money as PHP floats
    (``round(x, 2) * 100``), ``skidka`` per unit, ``priznak_agenta`` 40 and ``false`` in every
    agent string never configured."""
    return {
        "name_tovar": name,
        "price_piece_bez_skidki": float(before),
        "skidka": float(before - after),
        "kolvo": qty,
        "price_piece": float(after),
        "summa": float(after * qty),
        "stavka_nds": vat,
        "priznak_sposoba_rascheta": 4,
        "priznak_predmeta_rascheta": 1,
        "priznak_agenta": 40,
        "phone_oper_perevoda": False,
        "operation_plat_agenta": False,
        "phone_oper_priem_plat": False,
        "name_oper_perevoda": False,
        "address_oper_perevoda": False,
        "inn_oper_perevoda": False,
        "phone_postavshika": False,
        "name_postavshika": False,
    }


def envelope_of(
    kassaid: str, lines: list[dict[str, Any]], *, sign: int = 1, send: str = "email", **extra: Any
) -> dict[str, Any]:
    total = int(sum(float(line["summa"]) for line in lines))
    receipt: dict[str, Any] = {
        "kassaid": kassaid,
        "kassatoken": token_of(kassaid),
        "cms": "wordpress",
        "check_send_type": send,
        "products_arr": lines,
        "oplata_arr": {
            "rezhim_nalog": "1",
            "money_nal": 0,
            "money_electro": total,
            "money_predoplata": 0,
            "money_postoplata": 0,
            "money_vstrecha": 0,
            "kassir_inn": "",
            "kassir_fio": "",
            "client_email": "buyer@example.com",
            "client_phone": "",
        },
        "itog_arr": {"priznak_rascheta": sign, "itog_cheka": total},
    }
    receipt.update(extra)
    return receipt


def net_items(doc: Any) -> list[int]:
    """What the register fiscalized for each line: itemAmount − discount."""
    return [item["itemAmount"] - item.get("discount", 0) for item in doc.request["items"]]


# ----------------------------------------------------------------------- what clients send


def test_plugin_default_receipt_with_agent_40_false_strings_and_per_unit_discount(kassagate: Installation) -> None:
    """WooCommerce plugin: its default receipt, priznak_agenta 40, agent strings false (settings
    never saved), skidka per unit (price_piece_bez_skidki − price_piece), money as floats,
    sent to /srv/igd.php with check_type "standart"."""
    lines = [plugin_line("Чай", 15000, 12000, 3), dict(plugin_line("Сахар", 5000, 5000, 2), priznak_agenta="40")]
    receipt = envelope_of("701", lines, name_zakaz="Заказ 1001")
    answer, st = fiscalize(kassagate, receipt, extra={"check_type": "standart"})
    doc = kassagate.register_document("701", st["check_num_fd"])
    assert (doc.kind, doc.amount, doc.sign) == ("sale", 46000, 1)
    assert net_items(doc) == [36000, 10000]  # summa is what is fiscalized
    assert all("agentSign" not in item for item in doc.request["items"])
    assert doc.doc_number == answer["nuid"]


def test_documentation_example_discount_for_the_whole_line(kassagate: Installation) -> None:
    """The protocol's documentation example: skidka is the discount of the whole line
    (summa = price_piece_bez_skidki × kolvo − skidka)."""
    line = {
        "name_tovar": "Товар",
        "price_piece_bez_skidki": 10000,
        "kolvo": 3,
        "skidka": 1000,
        "price_piece": 9667,
        "summa": 29000,
        "stavka_nds": VAT_ALWAYS,
        "priznak_sposoba_rascheta": 4,
        "priznak_predmeta_rascheta": 1,
        "priznak_agenta": "none",
    }
    _answer, st = fiscalize(kassagate, envelope_of("702", [line]), path="/v1/fiscalize")
    doc = kassagate.register_document("702", st["check_num_fd"])
    assert (doc.kind, doc.amount) == ("sale", 29000)
    assert net_items(doc) == [29000]
    assert doc.request["items"][0]["discount"] == 1000


def test_script_without_price_before_discount_and_without_skidka(kassagate: Installation) -> None:
    """TypeScript shop integration and Python script: no discount, so no
    price_piece_bez_skidki and no skidka at all; kolvo as a decimal string."""
    lines = [
        {
            "name_tovar": "Доставка",
            "price_piece": 35000,
            "kolvo": 1,
            "summa": 35000,
            "stavka_nds": 6,
            "priznak_sposoba_rascheta": 4,
            "priznak_predmeta_rascheta": 4,
            "priznak_agenta": "none",
        },
        {
            "name_tovar": "Сыр",
            "price_piece": 120000,
            "kolvo": "0.25",
            "summa": 30000,
            "stavka_nds": VAT_ALWAYS,
            "priznak_sposoba_rascheta": 4,
            "priznak_predmeta_rascheta": 1,
        },
    ]
    _answer, st = fiscalize(kassagate, envelope_of("703", lines, send="none"))
    doc = kassagate.register_document("703", st["check_num_fd"])
    assert (doc.kind, doc.amount) == ("sale", 65000)
    assert net_items(doc) == [35000, 30000]
    assert [item["itemQty"] for item in doc.request["items"]] == [1000, 250]


def test_plugin_return_with_its_basis_document_is_an_ordinary_return(kassagate: Installation) -> None:
    """WooCommerce plugin: every return carries korr_arr with name_doc_korr, date_doc_korr
    (unix seconds as a string) and num_doc_korr: an ordinary /refund, the basis kept."""
    when = int(dt.datetime(2026, 3, 2, 15, 30, tzinfo=MSK).timestamp())
    korr = {"name_doc_korr": "Заказ", "date_doc_korr": str(when), "num_doc_korr": "1001"}
    receipt = envelope_of("704", [plugin_line("Чай", 15000, 12000, 1)], sign=2, korr_arr=korr)
    answer, st = fiscalize(kassagate, receipt)
    assert (st["check_type"], st["check_name"]) == (2, "Кассовый чек")
    doc = kassagate.register_document("704", st["check_num_fd"])
    assert (doc.kind, doc.origin, doc.amount, doc.sign) == ("refund", "refund", 12000, 2)
    kept = kassagate.stored_receipt(answer["nuid"])["korr_arr"]
    assert (kept["name_doc_korr"], kept["date_doc_korr"], kept["numb_doc_korr"]) == ("Заказ", "2026-03-02", "1001")
    assert "type_korr" not in kept


def test_ffd_105_correction_by_amounts_of_vat(kassagate: Installation) -> None:
    """The vendor's FFD 1.05 correction: no products_arr, korr_arr with type_korr, who made
    it, the payment split, the amounts by VAT rate and the basis document (unix seconds as a
    number); itog_arr gives the sign and total."""
    korr = {
        "type_korr": "0",
        "fio_upolnomoch": "Иванова А. А.",
        "inn_upolnomoch": "7707083893",
        "rezhim_nalog": "0",
        "money_nal": 12000,
        "money_electro": 0,
        "money_predoplata": 0,
        "money_postoplata": 0,
        "money_vstrecha": 0,
        "money_nds_20": 1000,
        "money_nds_10": 600,
        "money_nds_0": 0,
        "money_bez_nds": 0,
        "money_nds_20_120": 0,
        "money_nds_10_110": 0,
        "name_doc_korr": "Акт",
        "date_doc_korr": CORRECTED_UNIX,
        "numb_doc_korr": "17",
    }
    receipt = {
        "kassaid": "705",
        "kassatoken": token_of("705"),
        "cms": "php",
        "check_send_type": "none",
        "itog_arr": {"priznak_rascheta": 1, "itog_cheka": 12000},
        "korr_arr": korr,
    }
    answer, st = fiscalize(kassagate, receipt)
    assert (st["check_name"], st["check_itog"], st["check_sno"]) == ("Кассовый чек коррекции", 12000, 0)
    doc = kassagate.register_document("705", st["check_num_fd"])
    assert (doc.kind, doc.amount, doc.sign) == ("correction", 12000, 1)
    body = doc.request
    assert (body["date_start"], body["date_stop"], body["correctionType"], body["orderNumber"]) == (
        "2025-12-01",
        "2025-12-01",
        0,
        "17",
    )
    assert body["vatAmounts"] == [{"vatPercent": 1000, "vatSum": 600}, {"vatPercent": 2000, "vatSum": 1000}]
    assert (body["cashAmount"], body["employeeName"], body["employeeInn"]) == (12000, "Иванова А. А.", "7707083893")
    kept = kassagate.stored_receipt(answer["nuid"])["korr_arr"]
    assert (kept["type_korr"], kept["date_doc_korr"], kept["name_doc_korr"], kept["money_nds_20"]) == (
        0,
        "2025-12-01",
        "Акт",
        1000,
    )


def test_ffd_12_correction_with_lines_and_the_payment_split_in_korr_arr(kassagate: Installation) -> None:
    """The vendor's FFD 1.2 correction: the lines as in a receipt, korr_arr with type_korr
    (by order), the basis document and the payment split instead of oplata_arr."""
    line = {
        "name_tovar": "Услуга",
        "price_piece_bez_skidki": 11000,
        "kolvo": 1,
        "skidka": 0,
        "price_piece": 11000,
        "summa": 11000,
        "stavka_nds": 4,  # 10/110
        "priznak_sposoba_rascheta": 4,
        "priznak_predmeta_rascheta": 4,
        "priznak_agenta": "none",
    }
    korr = {
        "type_korr": "1",
        "name_doc_korr": "Предписание",
        "date_doc_korr": str(CORRECTED_UNIX),
        "numb_doc_korr": "77-15",
        "rezhim_nalog": 1,
        "money_electro": 11000,
    }
    receipt = {
        "kassaid": "706",
        "kassatoken": token_of("706"),
        "cms": "php",
        "check_send_type": "none",
        "products_arr": [line],
        "itog_arr": {"priznak_rascheta": 1, "itog_cheka": 11000},
        "korr_arr": korr,
    }
    _answer, st = fiscalize(kassagate, receipt)
    assert st["check_name"] == "Кассовый чек коррекции"
    doc = kassagate.register_document("706", st["check_num_fd"])
    assert (doc.kind, doc.amount) == ("correction", 11000)
    body = doc.request
    assert (body["correctionType"], body["orderNumber"], body["date_start"]) == (1, "77-15", "2025-12-01")
    assert body["vatAmounts"] == [{"vatPercent": 1000, "vatSum": 1000}]  # 10/110 inside 110.00
    assert body["cashlessAmount"] == 11000


def test_kassagate_correction_names_stay_aliases(kassagate: Installation) -> None:
    """Clients of kassagate's own correction extension: tip_korr, data_korr (a date) and
    nomer_predpisaniya still make a correction."""
    line = plugin_line("Чай", 10000, 10000, 1, vat=1)  # 20 %: valid on the corrected date
    korr = {"tip_korr": "self", "data_korr": "01.12.2025", "nomer_predpisaniya": "5"}
    _answer, st = fiscalize(kassagate, envelope_of("707", [line], korr_arr=korr))
    doc = kassagate.register_document("707", st["check_num_fd"])
    assert (doc.kind, doc.request["correctionType"], doc.request["date_start"]) == ("correction", 0, "2025-12-01")
    assert doc.request["vatAmounts"] == [{"vatPercent": 2000, "vatSum": 1667}]


# ----------------------------------------------------------------------- what must still be refused


def refused(kg: Installation, receipt: dict[str, Any]) -> str:
    answer = kg.send(receipt)
    assert (answer["status"], answer["code"]) == ("error", "60"), answer
    assert not send_accepted(answer)
    return str(answer["error"])


def test_line_matching_neither_discount_reading_is_refused_naming_both(kassagate: Installation) -> None:
    """A discounted line whose summa matches neither the per-line nor the per-unit reading."""
    line = dict(plugin_line("Чай", 15000, 12000, 3), summa=40000.0, price_piece=13333.0)
    text = refused(kassagate, envelope_of("708", [line]))
    assert "products_arr[0].summa" in text
    assert "42000 (discount per line" in text and "36000 (discount per unit" in text and "got 40000" in text


def test_sums_that_do_not_add_up_and_vat_not_valid_on_the_date_are_refused(kassagate: Installation) -> None:
    """Totals that differ from the lines or the payments, and a VAT code not valid today."""
    receipt = envelope_of("708", [plugin_line("Чай", 15000, 12000, 1)])
    receipt["itog_arr"]["itog_cheka"] = 12001
    assert "itog_arr.itog_cheka: expected 12000" in refused(kassagate, receipt)
    receipt = envelope_of("708", [plugin_line("Чай", 15000, 12000, 1)])
    receipt["oplata_arr"]["money_electro"] = 11999
    assert "oplata_arr: expected the payments to add up to itog_cheka 12000" in refused(kassagate, receipt)
    receipt = envelope_of("708", [plugin_line("Чай", 15000, 12000, 1, vat=VAT_NOT_TODAY)])
    assert f"products_arr[0].stavka_nds: VAT code {VAT_NOT_TODAY}" in refused(kassagate, receipt)


def test_corrections_that_break_the_rules_are_refused(kassagate: Installation) -> None:
    """A korr_arr without type_korr on a sale, and an FFD 1.05 VAT amount at a rate not valid
    on the corrected settlement's date."""
    receipt = envelope_of("708", [plugin_line("Чай", 100, 100, 1)], korr_arr={"num_doc_korr": "1"})
    assert "korr_arr.type_korr: required on a correction" in refused(kassagate, receipt)
    later = int(dt.datetime(2026, 2, 2, tzinfo=MSK).timestamp())
    receipt = {
        "kassaid": "708",
        "kassatoken": token_of("708"),
        "cms": "php",
        "check_send_type": "none",
        "itog_arr": {"priznak_rascheta": 1, "itog_cheka": 12000},
        "korr_arr": {"type_korr": 0, "date_doc_korr": later, "rezhim_nalog": 0, "money_nal": 12000,
                     "money_nds_20": 2000},
    }
    assert "korr_arr.money_nds_20: VAT rate 20% is valid until 2026-01-04" in refused(kassagate, receipt)


# ----------------------------------------------------------------------- what clients read


def test_status_as_clients_read_it(kassagate: Installation) -> None:
    """PHP class and plugin: status_code and error_code "000" on a fiscalized receipt, the
    receipt's name, the operator's address, the FNS site, the QR picture from the base64
    field (prefix cut off) and at its URL, and the public receipt page; /getfp with
    &auth=base answers as /v1/status does."""
    answer, st = fiscalize(kassagate, envelope_of("709", [plugin_line("Чай", 15000, 12000, 2)]))
    assert (st["status_code"], st["error_code"]) == ("000", "000")
    assert (st["check_name"], st["check_kkt_operator"], st["check_site_fns"]) == (
        "Кассовый чек",
        kassagate.url,
        "www.nalog.gov.ru",
    )
    assert "check_dt_ofdtime" in st and st["check_dt_unixtime"] > 0
    assert qr_text(qr_png_from_b64(st)) == st["check_qr_code"]
    picture = httpx.get(st["check_qr_code_img_url"])
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
    assert qr_text(picture.content) == st["check_qr_code"]
    assert st["check_qr_code_nano_url"] == (
        f"{kassagate.url}/check?nuid={answer['nuid']}&qnuid={answer['qnuid']}"
    )
    page = httpx.get(st["check_qr_code_nano_url"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for shown in (str(st["check_num_fd"]), st["check_num_fp"], st["check_fn_num"], "240.00", "Кассовый чек"):
        assert shown in page.text
    for hidden in ("not a fiscal document", "buyer@example.com", token_of("709")):
        assert hidden not in page.text
    plain = kassagate.http.get(kassagate.url + "/v1/status", params={"nuid": answer["nuid"], "qnuid": answer["qnuid"]})
    assert plain.json() == st


def test_pending_status_has_strings_where_values_are_missing(kassagate: Installation) -> None:
    """Clients subscript every field: before fiscal data exists, no value is null, and the
    status still satisfies the clients' rule."""
    answer = kassagate.send(envelope_of("710", [plugin_line("Чай", 100, 100, 1)]))
    assert send_accepted(answer)
    seen = [kassagate.status(answer["nuid"], answer["qnuid"]).json()]
    seen.append(kassagate.wait_final(answer["nuid"], answer["qnuid"]))
    for st in seen:
        assert status_good(st) and all(value is not None for value in st.values()), st
        assert isinstance(st["status_code"], str) and isinstance(st["error_code"], str)
    if seen[0]["check_status"] == 0:  # caught before the register answered
        assert (seen[0]["check_num_fd"], seen[0]["check_qr_code_img_b64"], seen[0]["check_qr_code_img_url"]) == (
            "",
            "",
            "",
        )


def test_debug_receipt_page_and_wrong_pairs(kassagate: Installation) -> None:
    """A debug kassa's receipt: its page says it is not a fiscal document; a wrong or missing
    pair is a plain 404 for the page and for the picture."""
    answer = kassagate.send(envelope_of(DEBUG_KASSA, [plugin_line("Чай", 100, 100, 1)]))
    assert send_accepted(answer) and answer["code"] == "390"
    st = kassagate.status(answer["nuid"], answer["qnuid"]).json()
    assert st["check_status"] == 3 and status_good(st)
    page = httpx.get(st["check_qr_code_nano_url"])
    assert page.status_code == 200 and "debug: not a fiscal document" in page.text
    assert httpx.get(st["check_qr_code_img_url"]).status_code == 200
    wrong = {"nuid": answer["nuid"], "qnuid": "1" * 23}
    for path in ("/check", "/v1/qr.png"):
        for params in (wrong, {"nuid": answer["nuid"]}, {}):
            r = kassagate.http.get(kassagate.url + path, params=params)
            assert r.status_code == 404 and answer["qnuid"] not in r.text


@pytest.mark.parametrize("agent", [40, "40", "none"])
def test_not_an_agent_in_each_spelling(kassagate: Installation, agent: Any) -> None:
    """The plugin's 40 as a number or a string, scripts' "none": the line is not an agent's and
    its agent strings (here junk of every type) are ignored."""
    line = dict(plugin_line("Чай", 100, 100, 1), priznak_agenta=agent, inn_oper_perevoda=12, name_postavshika=["x"])
    _answer, st = fiscalize(kassagate, envelope_of("711", [line]))
    doc = kassagate.register_document("711", st["check_num_fd"])
    assert "agentSign" not in doc.request["items"][0]


def test_unknown_fields_and_php_containers_are_taken_as_clients_send_them(kassagate: Installation) -> None:
    """PHP and Go clients: unknown fields (discount, deliveryposition, dop_rekvizit_1192),
    oplata_arr and itog_arr wrapped in a one-element array, products_arr as a PHP object with
    keys "0", "1", mera_kolva_predmeta_rasheta "0" (pieces), numbers as strings."""
    first = dict(plugin_line("Чай", 15000, 12000, 1), discount="0", deliveryposition=False)
    second = dict(plugin_line("Доставка", 30000, 30000, 1), mera_kolva_predmeta_rasheta="0", deliveryposition=True)
    receipt = envelope_of("712", [first, second])
    receipt["products_arr"] = {"1": second, "0": first}
    receipt["oplata_arr"] = [dict(receipt["oplata_arr"], dop_rekvizit_1192="", money_electro="42000")]
    receipt["itog_arr"] = [{"priznak_rascheta": "1", "itog_cheka": "42000"}]
    answer, st = fiscalize(kassagate, receipt)
    doc = kassagate.register_document("712", st["check_num_fd"])
    assert [item["itemName"] for item in doc.request["items"]] == ["Чай", "Доставка"]
    assert net_items(doc) == [12000, 30000] and doc.request["items"][1]["measureUnit"] == 0
    kept = kassagate.stored_receipt(answer["nuid"])
    assert "dop_rekvizit_1192" not in kept["oplata_arr"] and "deliveryposition" not in kept["products_arr"][0]
