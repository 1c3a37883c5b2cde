"""Every endpoint's answer fields, through HTTP; cloud/device shifts, idempotency, faults."""

from __future__ import annotations

import logging
import re

import pytest

from kassagate.cashbox.client import CashboxClient, HttpTransport
from kassagate.cashbox.virtual import read_fn_key, read_journal, set_fault
from kassagate.core.qr import parse_qr, verify_qr
from support.cashbox import MERCHANT_ID, Served, item, sale

FISCAL_FIELDS = ("status", "code", "message", "printError", "documentID", "fiscalID", "fiscalNum", "docTime",
                 "printTime", "docStatus", "rrn", "auth", "cardNum", "checkNum", "totalPayments", "shiftOrdersCnt",
                 "extraParams")
EXTRA_FIELDS = ("fnNumber", "fdNumber", "fiscalSign", "shiftNumber", "receiptNumber", "kktRegNumber", "qr")


def assert_fiscal(a: dict[str, object], reg: Served) -> None:
    assert a["code"] == 0, a
    for f in FISCAL_FIELDS:
        assert f in a, f
    extra = a["extraParams"]
    assert isinstance(extra, dict)
    for f in EXTRA_FIELDS:
        assert f in extra, f
    assert extra["fnNumber"] == reg.register.identity.fn_serial
    assert extra["kktRegNumber"] == reg.register.identity.kkt_reg_number
    # fiscalID: the FD number as 12 digits; fiscalNum: the FD number
    assert a["fiscalID"] == f"{extra['fdNumber']:012d}" and a["fiscalNum"] == str(extra["fdNumber"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", str(a["printTime"]))
    key = read_fn_key(reg.path)
    assert key is not None and verify_qr(key, str(extra["qr"]))
    q = parse_qr(str(extra["qr"]))
    assert q.fd == extra["fdNumber"] and str(q.fp) == extra["fiscalSign"]


async def test_sale_answer_fields_with_card(reg: Served) -> None:
    a = await reg.call("sale", sale(12345, pay={"cashlessAmount": 12345}, docTime="2026-03-02 09:59:00",
                                    docNumber="A-1", documentExtID="ext-1"))
    assert_fiscal(a, reg)
    assert re.fullmatch(r"\d{12}", a["rrn"]) and re.fullmatch(r"\d{6}", a["auth"])
    assert re.fullmatch(r"\d{6}\*{6}\d{4}", a["cardNum"]) and a["checkNum"] == "1"
    assert a["totalPayments"] == [{"code": "V", "amount": 12345}]
    assert a["docTime"] == "2026-03-02 09:59:00" and a["printTime"] == "2026-03-02 10:00:00"
    assert a["docStatus"] == 1 and a["documentExtID"] == "ext-1"
    assert a["extraParams"]["qr"] == (f"t=20260302T1000&s=123.45&fn={reg.register.identity.fn_serial}"
                                      f"&i={a['fiscalNum']}&fp={a['extraParams']['fiscalSign']}&n=1")
    # cloud mode: the sale opened shift 1 (FD 2 after the registration report FD 1)
    assert a["extraParams"]["shiftNumber"] == 1 and a["extraParams"]["fdNumber"] == 3
    assert a["extraParams"]["receiptNumber"] == 1


async def test_sale_idempotent_by_doc_time_number_amount_and_ext_id(reg: Served) -> None:
    doc = sale(docTime="2026-03-02 09:00:00", docNumber="N-7")
    first = await reg.call("sale", doc)
    again = await reg.call("sale", doc)
    assert again == first
    other = await reg.call("sale", {**doc, "docNumber": "N-8"})
    assert other["fiscalID"] != first["fiscalID"]
    byext = await reg.call("sale", sale(documentExtID="E-1"))
    assert (await reg.call("sale", sale(documentExtID="E-1")))["fiscalID"] == byext["fiscalID"]
    sales = [x for x in read_journal(reg.path) if x["type"] == "sale"]
    assert len(sales) == 3
    found = await reg.call("last_document", {"docTime": "2026-03-02 09:00:00", "docNumber": "N-7", "amount": 10000})
    assert found["fiscalID"] == first["fiscalID"]


async def test_refund_partial_by_quantity_and_card_rrn(reg: Served) -> None:
    s = await reg.call("sale", {"amount": 30000, "items": [item("Tea", 3000, 30000)],
                                "payments": {"cashlessAmount": 30000}})
    r = await reg.call("refund", {"parentDocID": s["fiscalID"], "amount": 10000, "items": [item("Tea", 1000, 10000)],
                                  "payments": {"cashlessAmount": 10000}})
    assert_fiscal(r, reg)
    assert r["extraParams"]["qr"].endswith("&n=2")
    assert r["rrn"] == s["rrn"]
    x = await reg.call("x_report", {})
    assert x["moneyBackCount"] == 1 and x["moneyBackSum"] == 10000 and x["moneyBackCashlessSum"] == 10000


async def test_standalone_refund_and_purchase_signs(reg: Served) -> None:
    r = await reg.call("refund", sale())
    assert_fiscal(r, reg)
    p = await reg.call("sale", sale(settlementSign=3))
    assert p["extraParams"]["settlementSign"] == 3
    pr = await reg.call("refund", {**sale(), "parentDocID": p["fiscalID"]})
    assert pr["extraParams"]["settlementSign"] == 4
    assert (await reg.call("refund", sale(settlementSign=1)))["code"] == 2


async def test_rollback(reg: Served) -> None:
    s = await reg.call("sale", sale())
    r = await reg.call("rollback", {"documentID": s["documentID"]})
    assert_fiscal(r, reg)
    assert r["extraParams"]["settlementSign"] == 2 and r["totalPayments"] == [{"code": "C", "amount": 10000}]
    assert (await reg.call("rollback", {"documentID": s["documentID"]}))["code"] == 36


async def test_order_preorder_and_payment(reg: Served) -> None:
    o = await reg.call("order", {"amount": 10000, "items": [item()], "documentExtID": "ord-1"})
    assert o["code"] == 0 and o["docStatus"] == 0 and o["fiscalID"] == "" and o["shiftOrdersCnt"] == 1
    p = await reg.call("preorder", {"documentID": o["documentID"]})
    assert p["code"] == 0 and p["amount"] == 10000 and p["items"][0]["itemName"] == "Coffee" and p["docStatus"] == 0
    st = await reg.call("check_status", {"documentID": o["documentID"]})
    assert st["docStatus"] == 0
    paid = await reg.call("sale", {"documentID": o["documentID"], "payments": {"cashAmount": 10000}})
    assert_fiscal(paid, reg)
    assert paid["documentID"] == o["documentID"] and paid["shiftOrdersCnt"] == 0
    assert (await reg.call("check_status", {"documentID": o["documentID"]}))["docStatus"] == 1
    assert (await reg.call("preorder", {"documentID": o["documentID"]}))["code"] == 9


async def test_prepay_then_sale_consuming_it(reg: Served) -> None:
    p = await reg.call("prepay", {"amount": 5000, "items": [item("Sofa", amount=5000, itemAttr=1)],
                                  "payments": {"cashAmount": 5000}})
    assert_fiscal(p, reg)
    s = await reg.call("sale", {"amount": 20000, "items": [item("Sofa", amount=20000)], "prepayDocID": p["documentID"],
                                "payments": {"prepaymentAmount": 5000, "cashAmount": 15000}})
    assert_fiscal(s, reg)
    assert {"code": "P", "amount": 5000} in s["totalPayments"]
    again = await reg.call("sale", {"amount": 5000, "items": [item("Sofa", amount=5000)],
                                    "prepayDocID": p["documentID"], "payments": {"prepaymentAmount": 5000}})
    assert again["code"] == 4 and "left" in again["message"]
    ext = await reg.call("sale", sale(pay={"prepaymentAmount": 10000}, prepaymentExternal=True))
    assert ext["code"] == 0


async def test_creditpay(reg: Served) -> None:
    s = await reg.call("sale", sale(pay={"creditAmount": 10000}, creditContract="L-1"))
    c = await reg.call("creditpay", {"documentID": s["documentID"], "creditContract": "L-1",
                                     "payments": {"cashlessAmount": 4000}})
    assert_fiscal(c, reg)
    assert c["totalPayments"] == [{"code": "V", "amount": 4000}] and c["rrn"]
    over = await reg.call("creditpay", {"documentID": s["documentID"], "payments": {"cashlessAmount": 6001}})
    assert over["code"] == 4
    x = await reg.call("x_report", {})
    assert x["creditPayCount"] == 1 and x["creditPayCashlessSum"] == 4000 and x["saleCreditSum"] == 10000


async def test_check_status_and_copy(reg: Served) -> None:
    s = await reg.call("sale", sale(documentExtID="X-1"))
    for req in ({"documentID": s["documentID"]}, {"documentExtID": "X-1"}, {"fiscalID": s["fiscalID"]}):
        st = await reg.call("check_status", req)
        assert_fiscal(st, reg)
        assert st["fiscalID"] == s["fiscalID"] and st["totalPayments"] == s["totalPayments"]
    c = await reg.call("check_copy", {"documentID": s["documentID"]})
    assert_fiscal(c, reg)
    assert c["items"][0]["itemName"] == "Coffee" and c["payments"] == {"cashAmount": 10000} and c["copy"] is True


async def test_last_document(reg: Served) -> None:
    assert (await reg.call("last_document", {}))["code"] == 9
    await reg.call("sale", sale(documentExtID="L-1"))
    b = await reg.call("sale", sale(documentExtID="L-2"))
    assert (await reg.call("last_document", {}))["fiscalID"] == b["fiscalID"]
    assert (await reg.call("last_document", {"documentExtID": "L-2"}))["fiscalID"] == b["fiscalID"]
    assert (await reg.call("last_document", {"documentExtID": "L-3"}))["code"] == 9
    assert (await reg.call("last_document", {"docTime": "2026-03-02 09:00:00"}))["code"] == 3


async def test_shift_endpoints_device_mode(device: Served) -> None:
    cs = await device.call("check_shift", {})
    assert cs["isShiftOpen"] == "false" and cs["shiftID"] == 0 and cs["shiftOpenAt"] == ""
    o = await device.call("open_shift", {})
    assert o["code"] == 0 and o["shiftID"] == 1 and o["fiscalShiftID"] == 1
    assert o["shiftOpenAt"] == "2026-03-02 10:00:00"
    dep = await device.call("deposit", {"amount": 5000})
    assert dep["code"] == 0 and dep["cash"] == 5000 and dep["cashIn"] == 5000 and dep["cashOut"] == 0
    assert dep["documentID"] > 0 and dep["fiscalID"] == ""
    await device.call("sale", sale(pay={"cashAmount": 20000}))
    cs = await device.call("check_shift", {})
    assert cs["isShiftOpen"] == "true" and cs["shiftID"] == 1 and cs["cash"] == 15000
    x = await device.call("x_report", {})
    assert x["code"] == 0 and x["shiftID"] == 1 and x["cash"] == 15000 and x["cashRest"] == 0
    assert x["saleCount"] == 1 and x["saleSum"] == 10000 and x["saleCashSum"] == 10000
    assert x["depositCount"] == 1 and x["depositSum"] == 5000
    w = await device.call("withdraw", {"amount": 15000})
    assert w["code"] == 0 and w["cash"] == 0 and w["cashOut"] == 15000
    tape = await device.call("control_tape", {})
    assert tape["code"] == 0 and [d["type"] for d in tape["documents"]] == ["open_shift", "deposit", "sale", "withdraw"]
    z = await device.call("close_shift", {})
    assert z["code"] == 0 and z["fiscalShiftID"] == 1 and z["saleSum"] == 10000 and z["withdrawSum"] == 15000
    assert z["extraParams"]["fiscalDocType"] == "close_shift"
    past = await device.call("x_report", {"shiftID": 1})
    assert past["code"] == 0 and past["isShiftOpen"] == "false" and past["saleSum"] == 10000


async def test_cloud_mode_rotates_shift_before_24_hours(reg: Served) -> None:
    await reg.call("sale", sale())
    await reg.call("deposit", {"amount": 100})
    reg.clock.advance(hours=23, minutes=56)
    a = await reg.call("sale", sale())
    assert a["code"] == 0 and a["extraParams"]["shiftNumber"] == 2
    kinds = [x["type"] for x in read_journal(reg.path)]
    assert kinds == ["registration", "open_shift", "sale", "deposit", "close_shift", "open_shift", "sale"]
    fds = [x["fd"] for x in read_journal(reg.path) if x["fd"] is not None]
    assert fds == list(range(1, len(fds) + 1))


async def test_orders_on_close_shift_delete_and_renew(reg: Served) -> None:
    o1 = await reg.call("order", {"amount": 10000, "items": [item()]})
    z = await reg.call("close_shift", {"openOrdersOperation": "renew"})
    assert z["code"] == 0
    assert (await reg.call("check_status", {"documentID": o1["documentID"]}))["docStatus"] == 0
    await reg.call("sale", sale())
    assert (await reg.call("close_shift", {"openOrdersOperation": "delete"}))["code"] == 0
    assert (await reg.call("check_status", {"documentID": o1["documentID"]}))["docStatus"] == 2


async def test_get_info(reg: Served) -> None:
    client = CashboxClient(HttpTransport(reg.url, MERCHANT_ID, client=reg.http))
    info = await client.get_info()
    assert info.ok and info.registered and info.fn_state == "ok" and info.last_fd_number == 1
    assert info.fn_number == reg.register.identity.fn_serial and len(info.fn_number or "") == 16
    assert len(info.kkt_reg_number or "") == 16 and info.auto_shift and not info.is_shift_open
    assert info.fn_expiry == "2029-03-01" and info.unsent_count == 0 and info.warnings == ()
    for f in ("kktSerial", "registered", "fnNumber", "kktRegNumber", "fnState", "fnFillPercent", "fnExpiry",
              "lastFdNumber", "isShiftOpen", "shiftID", "shiftOpenAt", "autoShift", "unsentCount", "warnings"):
        assert f in info.raw
    sale_answer = await client.sale(sale())
    assert sale_answer.ok and sale_answer.extra is not None and sale_answer.extra.fd_number == 3
    info = await client.get_info()
    assert info.is_shift_open and info.shift_id == 1 and info.last_fd_number == 3


async def test_correction(reg: Served) -> None:
    a = await reg.call("correction", {"date_start": "2026-02-01", "date_stop": "2026-02-28", "cashAmount": 5000,
                                      "cashlessAmount": 1000, "vatAmounts": [{"vatPercent": 2200, "vatSum": 1082}]})
    assert_fiscal(a, reg)
    assert a["date_start"] == "2026-02-01" and a["extraParams"]["fiscalDocType"] == "correction"
    x = await reg.call("x_report", {})
    assert x["correctionSum"] == 6000 and x["correctionVatAmounts"] == [{"vatPercent": 2200, "vatAmount": 1082}]
    assert (await reg.call("correction", {"date_start": "2026-02-01", "cashAmount": 1}))["code"] == 3
    assert (await reg.call("correction", {"date_start": "2026-02-30", "date_stop": "2026-03-01",
                                          "cashAmount": 1}))["code"] == 2


async def test_dates_report(reg: Served) -> None:
    await reg.call("sale", sale())
    reg.clock.advance(days=2)
    await reg.call("sale", sale(5000))
    a = await reg.call("dates_report", {"dateFrom": "2026-03-02", "dateFor": "2026-03-04"})
    assert a["code"] == 0 and a["saleCount"] == 2 and a["saleSum"] == 15000 and a["shiftCount"] == 2
    b = await reg.call("dates_report", {"dateFrom": "2026-03-03", "dateFor": "2026-03-04"})
    assert b["saleCount"] == 1 and b["saleSum"] == 5000
    assert (await reg.call("dates_report", {"dateFrom": "2026-03-02"}))["code"] == 3


async def test_printer_failure_still_fiscalizes(reg: Served) -> None:
    set_fault(reg.path, printer_fail=True)
    a = await reg.call("sale", sale())
    assert a["code"] == 0 and a["printError"] == 1 and a["fiscalID"]
    assert (await reg.call("sale", sale(skipReceiptPrint=True)))["printError"] == 0


async def test_ofd_down_30_day_rule(reg: Served) -> None:
    set_fault(reg.path, ofd_down=True)
    assert (await reg.call("sale", sale()))["code"] == 0
    info = await reg.call("get_info", {})
    assert info["unsentCount"] == 2 and info["fnState"] == "ok"  # the shift opening and the sale
    reg.clock.advance(days=31)
    a = await reg.call("sale", sale())
    assert a["code"] == 5 and a["fnState"] == "blocked"
    set_fault(reg.path, ofd_down=False)
    assert (await reg.call("sale", sale()))["code"] == 0
    assert (await reg.call("get_info", {}))["unsentCount"] == 0


async def test_wire_variants_accepted(reg: Served) -> None:
    from kassagate.cashbox.wire import encode_request

    body = encode_request(sale(), MERCHANT_ID)
    plain = body.replace(b"%3D", b"=")
    for b, ct in ((body, "text/plain"), (plain, "application/json"), (plain, "application/x-www-form-urlencoded")):
        assert (await reg.post("sale", b, ct))["code"] == 0
    data, sign = plain.decode().split("&")
    as_json = ('{"data":"%s","sign":"%s"}' % (data[5:], sign[5:])).encode()  # noqa: UP031
    assert (await reg.post("sale", as_json, "application/json"))["code"] == 0
    extra = await reg.call("sale", {**sale(), "pinCode": "1234", "paymentType": 1, "rrn": "x"})
    assert extra["code"] == 0
    r = await reg.http.get(f"{reg.url}/sale")
    assert r.status_code == 200 and r.json()["code"] == 2



async def test_each_call_is_logged_in_one_line_without_secrets(reg: Served, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="kassagate.cashbox.server"):
        await reg.call("get_info", {})
        await reg.call("sale", sale())
        r = await reg.http.post(f"{reg.url}/nowhere", content=b"data=x", headers={"X-Request-ID": "call-42"})
        assert r.json()["code"] == 9
    lines = [r for r in caplog.records if r.name == "kassagate.cashbox.server"]
    fields = [r.fields for r in lines]  # type: ignore[attr-defined]
    assert [(f["endpoint"], f["code"]) for f in fields] == [("get_info", 0), ("sale", 0), ("(unknown)", 9)]
    assert fields[2]["request_id"] == "call-42" and len(fields[0]["request_id"]) == 16
    assert all(r.levelno == logging.INFO and f["duration_ms"] >= 0 for r, f in zip(lines, fields, strict=True))
    assert MERCHANT_ID not in caplog.text + str(fields) and "Coffee" not in caplog.text + str(fields)
