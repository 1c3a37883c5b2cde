"""The status answer and the public receipt page from a ``requests`` row (``docs/front.md``,
"The public receipt page")."""

from __future__ import annotations

import json
from typing import Any

from kassagate.front.receipt_page import render_receipt_page, rub
from kassagate.front.status import status_body
from support.receipts import product, receipt

NUID, QNUID = "1" * 23, "2" * 23


def row(status: int, **fields: Any) -> dict[str, Any]:
    body = receipt(products=[product("<b>Tea</b>", 10000, 2)])
    body["oplata_arr"]["client_phone"] = "+79991234567"
    out: dict[str, Any] = {
        "nuid": NUID,
        "qnuid": QNUID,
        "status": status,
        "receipt": json.dumps(fields.pop("receipt", body)),
        "check_type": 1,
        "rid": None,
        "error_code": None,
        "error_text": None,
        "fiscal_dt": None,
        "fd_number": None,
        "fiscal_sign": None,
        "fn_serial": None,
        "kkt_reg_number": None,
        "shift_number": None,
        "number_in_shift": None,
        "qr": None,
    }
    out.update(fields)
    return out


FISCAL = {
    "fiscal_dt": 1_780_000_000_000_000,
    "fd_number": 31,
    "fiscal_sign": "1879546968",
    "fn_serial": "9999078900006825",
    "kkt_reg_number": "0000000001012345",
    "shift_number": 3,
    "number_in_shift": 7,
    "qr": "t=20260528T2326&s=200.00&fn=9999078900006825&i=31&fp=1879546968&n=1",
}


def test_pending_status_has_every_field_and_no_null() -> None:
    st = status_body(row(0), "https://kassa.example.com/")
    assert all(v is not None for v in st.values())
    assert (st["status_code"], st["error_code"]) == ("000", "000")
    assert (st["check_num_fd"], st["check_qr_code_img_url"], st["check_qr_code_img_b64"]) == ("", "", "")
    assert st["check_kkt_operator"] == "https://kassa.example.com"
    assert st["check_qr_code_nano_url"] == f"https://kassa.example.com/check?nuid={NUID}&qnuid={QNUID}"
    assert (st["check_name"], st["check_site_fns"], st["check_dt_ofdtime"]) == ("Кассовый чек", "www.nalog.gov.ru", "")


def test_failed_status_carries_the_code_in_both_fields() -> None:
    st = status_body(row(2, error_code=60, error_text="KKT refused"), "")
    assert (st["check_status"], st["status_code"], st["error_code"], st["error_text"]) == (2, "60", "60", "KKT refused")


def test_fiscalized_status_and_correction_name() -> None:
    st = status_body(row(1, **FISCAL), "http://h")
    assert (st["check_num_fd"], st["check_dt_unixtime"], st["status_code"]) == (31, 1_780_000_000, "000")
    assert st["check_qr_code_img_url"] == f"http://h/v1/qr.png?nuid={NUID}&qnuid={QNUID}"
    assert st["check_qr_code_img_b64"].startswith("data:image/png;base64,")
    corr = receipt(korr_arr={"type_korr": 0, "date_doc_korr": "2025-12-01"})
    assert status_body(row(1, receipt=corr, **FISCAL), "")["check_name"] == "Кассовый чек коррекции"
    basis = receipt(sign=2, korr_arr={"date_doc_korr": "2025-12-01", "numb_doc_korr": "1"})
    assert status_body(row(1, receipt=basis, **FISCAL), "")["check_name"] == "Кассовый чек"


def test_receipt_page_shows_the_receipt_escaped_and_nothing_personal() -> None:
    page = render_receipt_page(row(1, **FISCAL), "http://h")
    for shown in ("&lt;b&gt;Tea&lt;/b&gt;", "200.00", "31", "1879546968", "9999078900006825", "0000000001012345",
                  f"http://h/v1/qr.png?nuid={NUID}&amp;qnuid={QNUID}", "www.nalog.gov.ru"):
        assert shown in page, shown
    for hidden in ("<b>Tea</b>", "buyer@example.com", "+79991234567", "token-1001", "not a fiscal document"):
        assert hidden not in page, hidden
    debug = render_receipt_page(row(3, **FISCAL), "http://h")
    assert "debug: not a fiscal document" in debug
    pending = render_receipt_page(row(0), "http://h")
    assert "ждёт фискализации" in pending and "qr.png" not in pending


def test_roubles() -> None:
    assert (rub(0), rub(5), rub(123456789), rub("x")) == ("0.00", "0.05", "1\u202f234\u202f567.89", "")


def test_receipt_page_of_a_correction_by_amounts() -> None:
    corr = receipt(korr_arr={"type_korr": 0, "date_doc_korr": "2025-12-01", "money_nds_20": 1000,
                             "money_bez_nds": 5000})
    corr["products_arr"] = []
    page = render_receipt_page(row(1, receipt=corr, **FISCAL), "http://h")
    assert "Кассовый чек коррекции" in page and "НДС 20%" in page and "10.00" in page
    assert "without VAT" not in page  # an amount without VAT carries no VAT
