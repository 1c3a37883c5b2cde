"""Every error code of the register (``docs/cashbox.md``, "Codes"), reached through HTTP."""

from __future__ import annotations

import base64

from kassagate.cashbox.virtual import set_fault, set_fn_state
from kassagate.cashbox.wire import sign_data
from support.cashbox import MERCHANT_ID, Served, item, sale


async def test_code_0_success(reg: Served) -> None:
    a = await reg.call("sale", sale())
    assert a["code"] == 0 and a["status"] == "success" and a["message"] == ""


async def test_code_1_bad_signature(reg: Served) -> None:
    a = await reg.call("sale", sale(), merchant_id="someone-else")
    assert a["code"] == 1
    assert MERCHANT_ID not in a["message"]
    assert (await reg.post("sale", b"data=e30%3D"))["code"] == 1  # no sign at all


async def test_code_2_undecodable_data(reg: Served) -> None:
    bad_b64 = "not*base64!"
    a = await reg.post("sale", f"data={bad_b64}&sign={sign_data(bad_b64, MERCHANT_ID)}".encode())
    assert a["code"] == 2 and "base64" in a["message"]
    not_json = base64.b64encode(b"{not json").decode()
    a = await reg.post("sale", f"data={not_json}&sign={sign_data(not_json, MERCHANT_ID)}".encode())
    assert a["code"] == 2
    array = base64.b64encode(b"[1,2]").decode()
    a = await reg.post("sale", f"data={array}&sign={sign_data(array, MERCHANT_ID)}".encode())
    assert a["code"] == 2 and "object" in a["message"]
    a = await reg.call("sale", {**sale(), "amount": "ten"})
    assert a["code"] == 2 and "amount" in a["message"]


async def test_code_3_missing_parameter(reg: Served) -> None:
    a = await reg.call("sale", {"amount": 100, "payments": {"cashAmount": 100}})
    assert a["code"] == 3 and "items" in a["message"]
    a = await reg.call("sale", {"items": [item()], "payments": {"cashAmount": 100}})
    assert a["code"] == 3 and "amount" in a["message"]
    a = await reg.call("sale", {"amount": 100, "items": [{"itemName": "x", "itemQty": 1000}]})
    assert a["code"] == 3 and "items[0].itemAmount" in a["message"]
    assert (await reg.post("sale", b"sign=abc"))["code"] == 3
    assert (await reg.call("check_status", {}))["code"] == 3


async def test_code_4_amount_differs_from_positions(reg: Served) -> None:
    a = await reg.call("sale", {"amount": 10001, "items": [item(amount=10000)], "payments": {"cashAmount": 10001}})
    assert a["code"] == 4 and "10000" in a["message"]
    a = await reg.call("sale", {"amount": 9000, "items": [item(amount=10000, discount=1000)],
                                "payments": {"cashAmount": 9000}})
    assert a["code"] == 0
    a = await reg.call("sale", {"amount": -5, "items": [item(amount=-5)], "payments": {}})
    assert a["code"] == 4


async def test_code_5_fn_broken_or_full(reg: Served) -> None:
    set_fn_state(reg.path, "broken")
    a = await reg.call("sale", sale())
    assert a["code"] == 5 and a["fnState"] == "broken" and "broken" in a["message"]
    set_fn_state(reg.path, "full")
    a = await reg.call("sale", sale())
    assert a["code"] == 5 and a["fnState"] == "full"
    set_fn_state(reg.path, "ok")
    assert (await reg.call("sale", sale()))["code"] == 0


async def test_code_6_shift_not_open(device: Served) -> None:
    a = await device.call("sale", sale())
    assert a["code"] == 6 and "open_shift" in a["message"]
    assert (await device.call("x_report", {}))["code"] == 6
    assert (await device.call("x_report", {"shiftID": 77}))["code"] == 6
    assert (await device.call("open_shift", {}))["code"] == 0
    a = await device.call("open_shift", {})
    assert a["code"] == 6 and "already open" in a["message"]


async def test_code_7_payment_type_not_supported(reg: Served) -> None:
    a = await reg.call("sale", {**sale(), "payments": {}, "extraPayments": [{"code": "X", "amount": 10000}]})
    assert a["code"] == 7 and "X" in a["message"]
    set_fault(reg.path, terminal_fail=True)
    a = await reg.call("sale", sale(pay={"cashlessAmount": 10000}))
    assert a["code"] == 7 and "terminal" in a["message"]
    assert (await reg.call("sale", sale()))["code"] == 0  # cash still works


async def test_code_8_not_fully_paid(reg: Served) -> None:
    a = await reg.call("sale", sale(pay={"cashAmount": 9999}))
    assert a["code"] == 8 and "9999" in a["message"]


async def test_code_9_not_found(reg: Served) -> None:
    assert (await reg.call("check_status", {"documentID": 999}))["code"] == 9
    assert (await reg.call("check_copy", {"documentID": 999}))["code"] == 9
    assert (await reg.call("rollback", {"documentID": 999}))["code"] == 9
    assert (await reg.call("refund", {**sale(), "parentDocID": "999"}))["code"] == 9
    assert (await reg.call("deposit", {"amount": 500}))["code"] == 0
    a = await reg.call("withdraw", {"amount": 501})
    assert a["code"] == 9 and "not enough cash" in a["message"]
    assert (await reg.post("no_such_endpoint", b""))["code"] == 9


async def test_code_10_never_fiscalized(reg: Served) -> None:
    order = await reg.call("order", {"amount": 10000, "items": [item()]})
    assert order["code"] == 0 and order["docStatus"] == 0
    a = await reg.call("rollback", {"documentID": order["documentID"]})
    assert a["code"] == 10


async def test_code_11_change_in_cash_only(reg: Served) -> None:
    a = await reg.call("sale", sale(pay={"cashlessAmount": 10001}))
    assert a["code"] == 11
    a = await reg.call("sale", sale(pay={"cashAmount": 5000, "cashlessAmount": 6000}))
    assert a["code"] == 0 and a["change"] == 1000


async def test_code_12_unacceptable_tax_percent(reg: Served) -> None:
    # 20 % ended on 2026-01-04; the register's clock says 2026-03-02.
    a = await reg.call("sale", {**sale(), "items": [item(itemTaxes=[{"taxPrc": 2000, "calcType": 1}])]})
    assert a["code"] == 12 and "2000" in a["message"]
    a = await reg.call("sale", {**sale(), "items": [item(itemTaxes=[{"taxPrc": 2000, "taxCode": 1}])]})
    assert a["code"] == 12 and "2026-01-04" in a["message"]
    a = await reg.call("sale", {**sale(), "items": [item(itemTaxes=[{"taxPrc": 1800}])]})
    assert a["code"] == 12
    # A return may use the rate of the original settlement.
    a = await reg.call("refund", {**sale(), "items": [item(itemTaxes=[{"taxPrc": 2000, "taxCode": 1}])]})
    assert a["code"] == 0
    a = await reg.call("correction", {"date_start": "2025-12-01", "date_stop": "2025-12-31", "cashAmount": 100,
                                      "vatAmounts": [{"vatPercent": 1800, "vatSum": 1}]})
    assert a["code"] == 12


async def _credit_sale(reg: Served) -> int:
    a = await reg.call("sale", sale(pay={"cashAmount": 2000, "creditAmount": 8000}, creditContract="C-1"))
    assert a["code"] == 0
    return int(a["documentID"])


async def test_code_13_loan_repayment_one_payment_type(reg: Served) -> None:
    doc = await _credit_sale(reg)
    a = await reg.call("creditpay", {"documentID": doc, "creditContract": "C-1",
                                     "payments": {"cashAmount": 1000, "cashlessAmount": 1000}})
    assert a["code"] == 13


async def test_code_15_single_loan_one_payment_type(reg: Served) -> None:
    doc = await _credit_sale(reg)
    assert (await reg.call("creditpay", {"documentID": doc, "payments": {"cashAmount": 1000}}))["code"] == 0
    a = await reg.call("creditpay", {"documentID": doc, "payments": {"cashlessAmount": 1000}})
    assert a["code"] == 15


async def test_code_16_incorrect_tax_percent(reg: Served) -> None:
    for taxes in ([{"taxPrc": 10001}], [{"taxPrc": "20.0"}], [{"taxPrc": -1}], ["2000"], {"taxPrc": 0},
                  [{"taxPrc": 2200, "calcType": 9}], [{"taxPrc": 1000, "vatCode": 11}],
                  [{"taxPrc": 2200, "taxRate": 20}], [{"taxRate": "x"}], [{"taxRate": 12.345}]):
        a = await reg.call("sale", {**sale(), "items": [item(itemTaxes=taxes)]})
        assert a["code"] == 16, taxes


async def _sold(reg: Served) -> dict[str, object]:
    a = await reg.call("sale", {"amount": 30000, "items": [item("Tea", 3000, 30000, itemId="t1")],
                                "payments": {"cashAmount": 30000}})
    assert a["code"] == 0
    return a


async def test_code_18_refund_item_not_in_sale(reg: Served) -> None:
    s = await _sold(reg)
    a = await reg.call("refund", {"parentDocID": s["fiscalID"], "amount": 100,
                                  "items": [item("Cake", amount=100, itemId="c9")], "payments": {"cashAmount": 100}})
    assert a["code"] == 18 and "Cake" in a["message"]


async def test_code_19_refund_quantity_exceeded(reg: Served) -> None:
    s = await _sold(reg)
    two = {"parentDocID": s["fiscalID"], "amount": 20000, "items": [item("Tea", 2000, 20000, itemId="t1")],
           "payments": {"cashAmount": 20000}}
    assert (await reg.call("refund", two))["code"] == 0
    a = await reg.call("refund", two)  # 2 + 2 > 3
    assert a["code"] == 19 and "2000 already refunded" in a["message"]


async def test_code_20_prepay_doc_missing(reg: Served) -> None:
    a = await reg.call("sale", sale(pay={"prepaymentAmount": 10000}))
    assert a["code"] == 20


async def test_code_21_item_not_in_prepayment(reg: Served) -> None:
    p = await reg.call("prepay", {"amount": 10000, "items": [item("Table", itemAttr=1)],
                                  "payments": {"cashAmount": 10000}})
    assert p["code"] == 0
    a = await reg.call("sale", {**sale(pay={"prepaymentAmount": 10000}), "prepayDocID": p["documentID"],
                                "items": [item("Chair")]})
    assert a["code"] == 21 and "Chair" in a["message"]


async def test_code_22_shift_over_24_hours(device: Served) -> None:
    assert (await device.call("open_shift", {}))["code"] == 0
    device.clock.advance(hours=24, minutes=1)
    a = await device.call("sale", sale())
    assert a["code"] == 22 and "close" in a["message"]


async def test_code_24_open_orders_remain(reg: Served) -> None:
    assert (await reg.call("order", {"amount": 10000, "items": [item()]}))["code"] == 0
    a = await reg.call("close_shift", {})
    assert a["code"] == 24 and "1 open order" in a["message"]


async def test_code_26_no_transactions(device: Served) -> None:
    assert (await device.call("open_shift", {}))["code"] == 0
    assert (await device.call("close_shift", {}))["code"] == 26


async def test_code_27_cash_remains(device: Served) -> None:
    assert (await device.call("open_shift", {}))["code"] == 0
    assert (await device.call("sale", sale()))["code"] == 0
    a = await device.call("close_shift", {})
    assert a["code"] == 27 and "10000" in a["message"]
    assert (await device.call("withdraw", {"amount": 10000}))["code"] == 0
    assert (await device.call("close_shift", {}))["code"] == 0


async def test_code_36_already_refunded(reg: Served) -> None:
    s = await _sold(reg)
    one = {"parentDocID": s["fiscalID"], "amount": 10000, "items": [item("Tea", 1000, 10000, itemId="t1")],
           "payments": {"cashAmount": 10000}}
    assert (await reg.call("refund", one))["code"] == 0
    a = await reg.call("rollback", {"documentID": s["documentID"]})
    assert a["code"] == 36


async def test_code_39_fn_refuses_shift_report(reg: Served) -> None:
    assert (await reg.call("sale", sale()))["code"] == 0
    set_fn_state(reg.path, "broken")
    a = await reg.call("close_shift", {})
    assert a["code"] == 39 and "broken" in a["message"]


async def test_code_40_shift_changed(reg: Served) -> None:
    assert (await reg.call("sale", sale()))["code"] == 0
    a = await reg.call("close_shift", {"shiftID": 5})
    assert a["code"] == 40 and "not the open shift" in a["message"]
