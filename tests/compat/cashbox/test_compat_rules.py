"""Lenient input, strict meaning: each thing real clients send is accepted through signed
HTTP, and the register's rules still refuse what they must."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from msgspec import UNSET

from kassagate.cashbox.virtual import read_journal
from support.cashbox_client_schemas import Types
from support.cashbox_compat import FOREIGN_RATES, Register, open_register


@pytest.fixture
async def ru(tmp_path: Path) -> AsyncIterator[Register]:
    """The Russian VAT table by date (the register's clock: 2026-03-02)."""
    (tmp_path / "ru").mkdir()
    async for r in open_register(tmp_path / "ru"):
        yield r


@pytest.fixture
async def fixed(tmp_path: Path) -> AsyncIterator[Register]:
    """A register configured with a fixed list of rates (``--tax-rates``)."""
    (tmp_path / "fixed").mkdir()
    async for r in open_register(tmp_path / "fixed", tax_rates=FOREIGN_RATES):
        yield r


def doc(taxes: list[Any] | None = None, amount: int = 11800, **kw: Any) -> dict[str, Any]:
    line: dict[str, Any] = {"itemName": "Çay", "itemQty": 1000, "itemAmount": amount}
    if taxes is not None:
        line["itemTaxes"] = taxes
    return {"amount": amount, "items": [line], "payments": {"cashAmount": amount}, **kw}


async def sale_vat(reg: Register, taxes: list[Any]) -> dict[int, int]:
    """The VAT by percent that one sale of 118.00 adds to the X report."""
    before = {v.vatPercent: v.vatAmount for v in (await reg.ok("x_report", {})).saleVatAmounts} \
        if (await reg.json("check_shift", {}))["isShiftOpen"] == "true" else {}
    await reg.ok("sale", doc(taxes))
    after = {v.vatPercent: v.vatAmount for v in (await reg.ok("x_report", {})).saleVatAmounts}
    return {p: v - before.get(p, 0) for p, v in after.items() if v - before.get(p, 0) or p not in before}


async def test_foreign_rates_on_a_configured_register(fixed: Register) -> None:
    assert await sale_vat(fixed, [{"taxPrc": 1800}]) == {1800: 1800}
    for prc in (2000, 1200, 800, 200, 0):
        assert (await fixed.call("sale", doc([{"taxPrc": prc}]))).code == 0
    # a rate the register is not configured for: 12, the message lists the configured ones
    for taxes in ([{"taxPrc": 2200}], [{"taxRate": 10}], [{"taxPrc": 1800, "vatCode": 11}]):
        a = await fixed.call("sale", doc(taxes))
        assert a.code in (12, 16) and "1800" in a.message, (taxes, a)
    assert (await fixed.call("sale", doc([{"taxPrc": 2200}]))).code == 12
    info = await fixed.ok("get_info", {})
    assert info.taxTable == "fixed" and info.taxRates == sorted(FOREIGN_RATES)


async def test_the_russian_table_by_date_is_the_default(ru: Register) -> None:
    for prc in (1800, 1200, 800, 200, 2000):  # 20 % ended on 2026-01-04
        a = await ru.call("sale", doc([{"taxPrc": prc}]))
        assert a.code == 12 and "2026-03-02" in a.message, a
    assert (await ru.call("sale", doc([{"taxPrc": 2200}]))).code == 0
    assert (await ru.call("refund", doc([{"taxPrc": 2000}]))).code == 0  # the original settlement's rate
    info = await ru.ok("get_info", {})
    assert info.taxTable == "ru-vat-by-date" and info.taxRates == [0, 500, 700, 1000, 2200]


@pytest.mark.parametrize("entry", [
    {"taxName": "TVA A", "taxCode": "A", "taxPrc": 2000},  # the vendor's own example
    {"taxCode": "1", "taxPrc": 2000}, {"taxCode": "11", "taxPrc": "2000"}, {"taxCode": 7, "taxPrc": 2000},
    {"taxCode": None, "taxPrc": 2000, "calcType": "1"}, {"taxRate": 20}, {"taxRate": 20.0, "taxAmount": 19.67},
    {"taxRate": "20", "taxPrc": 2000}, {"taxRate": "20.00"},
])
async def test_tax_code_is_a_label_and_the_rate_comes_as_taxprc_or_taxrate(fixed: Register,
                                                                           entry: dict[str, Any]) -> None:
    assert await sale_vat(fixed, [entry]) == {2000: 1967}


@pytest.mark.parametrize("entry", [{"taxRate": 0.0, "taxAmount": 0.0}, {"taxName": "no VAT"}, {"taxCode": "B"}])
async def test_an_entry_without_a_rate_sells(ru: Register, fixed: Register, entry: dict[str, Any]) -> None:
    for reg in (ru, fixed):
        vat = await sale_vat(reg, [entry])
        assert all(v == 0 for v in vat.values()), vat


async def test_malformed_tax_entries_are_still_refused(fixed: Register) -> None:
    for taxes in ([{"taxPrc": "20%"}], [{"taxPrc": 20.5}], [{"taxRate": "x"}], [{"taxRate": 12.345}],
                  [{"taxRate": 18, "taxPrc": 2000}], [{"taxPrc": 1800, "calcType": 7}], ["1800"], {"taxPrc": 1800}):
        assert (await fixed.call("sale", doc(taxes))).code == 16, taxes


async def test_vat_code_keeps_22_and_22_122_distinct(ru: Register, tmp_path: Path) -> None:
    a = await ru.ok("sale", doc([{"taxPrc": 2200, "vatCode": 12}], amount=12200))
    b = await ru.ok("sale", doc([{"taxPrc": 2200, "vatCode": 11, "taxCode": "11"}], amount=12200))
    copies = [await ru.json("check_copy", {"documentID": x.documentID}) for x in (a, b)]
    assert [c["items"][0]["itemTaxes"][0]["vatCode"] for c in copies] == [12, 11]
    assert (await ru.call("sale", doc([{"taxPrc": 2000, "vatCode": 12}]))).code == 16
    a = await ru.call("sale", doc([{"taxPrc": 2000, "vatCode": 1}]))
    assert a.code == 12 and "2026-01-04" in a.message
    assert (await ru.call("sale", doc([{"vatCode": 13}]))).code == 16


async def test_integers_as_strings_of_digits(ru: Register) -> None:
    a = await ru.ok("sale", {"amount": "10000", "items": [{"itemName": "x", "itemQty": "1000", "itemAmount": "10000",
                                                           "paymentMethod": "4", "paymentSubject": "1",
                                                           "itemTaxes": [{"taxPrc": "2200", "calcType": "1"}]}],
                             "payments": {"cashAmount": "10000"}, "documentExtID": "77", "settlementSign": "1",
                             "taxSystem": "0"})
    assert a.documentExtID == "77"
    assert (await ru.ok("check_status", {"documentID": str(a.documentID)})).documentID == a.documentID
    assert (await ru.ok("rollback", {"documentID": str(a.documentID)})).code == 0
    c = await ru.ok("correction", {"date_start": "2026-03-01", "date_stop": "2026-03-01", "cashAmount": "100",
                                   "vatAmounts": [{"vatPercent": "2200", "vatSum": "18"}]})
    assert c.code == 0
    assert (await ru.call("sale", {**doc(), "amount": "1e4"})).code == 2  # a string that is no integer


async def test_document_ext_id_echoed_as_sent_and_absent_when_not_sent(ru: Register) -> None:
    plain = await ru.json("sale", doc(amount=100))
    assert "documentExtID" not in plain
    assert "documentExtID" not in await ru.json("sale", doc(amount=101, documentExtID=""))
    assert (await ru.json("sale", doc(amount=102, documentExtID=42)))["documentExtID"] == 42
    assert (await ru.json("sale", doc(amount=103, documentExtID="A-42")))["documentExtID"] == "A-42"
    assert (await ru.json("sale", doc(amount=102, documentExtID=42)))["documentExtID"] == 42  # the resend
    assert (await ru.json("order", doc(amount=104, documentExtID=43)))["documentExtID"] == 43
    assert (await ru.json("deposit", {"amount": 5, "documentExtID": 44}))["documentExtID"] == 44
    assert "documentExtID" not in await ru.json("withdraw", {"amount": 5})


@pytest.mark.parametrize(("shift_type", "fiscal_type"), [("int", "string"), ("string", "int")])
async def test_shift_id_and_fiscal_id_types(tmp_path: Path, shift_type: str, fiscal_type: str) -> None:
    types = Types(shift_id=int if shift_type == "int" else str, fiscal_id=str if fiscal_type == "string" else int)
    async for reg in open_register(tmp_path, types, auto_shift=False):
        o = await reg.ok("open_shift", {})
        assert o.shiftID == types.shift_id(1) and o.fiscalShiftID == types.shift_id(1)
        s = await reg.ok("sale", doc())
        assert s.fiscalID == ("000000000003" if fiscal_type == "string" else 3) and s.fiscalNum == "3"
        # either form names the document
        for ref in ("000000000003", "3", 3):
            assert (await reg.ok("check_status", {"fiscalID": ref})).documentID == s.documentID
        assert (await reg.ok("refund", {**doc(), "parentDocID": s.fiscalID})).code == 0
        info = await reg.ok("get_info", {})
        assert (info.shiftIdType, info.fiscalIdType) == (shift_type, fiscal_type)
        assert (await reg.ok("x_report", {"shiftID": o.shiftID})).shiftID == o.shiftID


async def test_further_payment_kinds(ru: Register) -> None:
    for field, kind in (("otherAmount", "O"), ("installmentAmount", "I"), ("invoiceAmount", "F")):
        a = await ru.ok("sale", {**doc(), "payments": {"cashAmount": 1800, field: 10000}})
        assert {(p.code, p.amount) for p in a.totalPayments} == {("C", 1800), (kind, 10000)}
    a = await ru.ok("sale", {**doc(), "payments": {}, "extraPayments": [{"code": "O", "amount": 11800}]})
    assert [(p.code, p.amount) for p in a.totalPayments] == [("O", 11800)]
    x = await ru.ok("x_report", {})
    assert (x.saleOtherSum, x.saleInstallmentSum, x.saleInvoiceSum) == (21800, 10000, 10000)
    # still: not fully paid (8), change only in cash (11), an unknown kind (7)
    assert (await ru.call("sale", {**doc(), "payments": {"otherAmount": 100}})).code == 8
    assert (await ru.call("sale", {**doc(), "payments": {"invoiceAmount": 11801}})).code == 11
    assert (await ru.call("sale", {**doc(), "extraPayments": [{"code": "Z", "amount": 1}]})).code == 7


async def test_aliases(ru: Register) -> None:
    credit = await ru.ok("sale", {**doc(), "payments": {"creditAmount": 11800}})
    assert (await ru.ok("creditpay", {"parentDocID": credit.fiscalID, "payments": {"cashAmount": 800}})).code == 0
    assert (await ru.call("creditpay", {"parentDocID": "999", "payments": {"cashAmount": 800}})).code == 9
    assert (await ru.call("creditpay", {"payments": {"cashAmount": 800}})).code == 3
    r = await ru.ok("dates_report", {"date_start": "2026-03-02", "date_stop": "2026-03-02"})
    assert r.dateFrom == r.dateFor == "2026-03-02" and r.saleCount == 1 and r.creditPayCount == 1
    assert (await ru.call("dates_report", {"date_start": "2026-03-02"})).code == 3


async def test_x_report_with_an_empty_shift_id_is_the_current_shift(tmp_path: Path) -> None:
    async for reg in open_register(tmp_path, auto_shift=False):
        assert (await reg.call("x_report", {"shiftID": ""})).code == 6  # no shift open
        await reg.ok("open_shift", {})
        await reg.ok("sale", doc())
        x = await reg.ok("x_report", {"shiftID": ""})
        assert x.shiftID == 1 and x.saleCount == 1
        assert (await reg.call("x_report", {"shiftID": "7"})).code == 6


async def test_item_amount_gross_or_net(ru: Register) -> None:
    line = {"itemName": "Tea", "itemQty": 2000, "discount": 1000, "itemTaxes": [{"taxPrc": 2200}]}
    gross = await ru.ok("sale", {"amount": 9000, "items": [{**line, "itemAmount": 10000}],
                                 "payments": {"cashAmount": 9000}})
    net = await ru.ok("sale", {"amount": 9000, "items": [{**line, "itemAmount": 9000}],
                               "payments": {"cashAmount": 9000}})
    # either way the line is 100.00 less 10.00: the same VAT
    lines = {x["documentID"]: x for x in read_journal(ru.path)}
    assert lines[gross.documentID]["itemAmountReading"] == "gross"
    assert lines[net.documentID]["itemAmountReading"] == "net"
    x = await ru.ok("x_report", {})
    assert x.saleSum == 18000 and [(v.vatPercent, v.vatAmount) for v in x.saleVatAmounts] == [(2200, 2 * 1623)]
    # a net-read sale is refunded and rolled back like any other
    one = {"amount": 4500, "items": [{"itemName": "Tea", "itemQty": 1000, "itemAmount": 4500}],
           "payments": {"cashAmount": 4500}}
    assert (await ru.ok("refund", {**one, "parentDocID": net.fiscalID})).code == 0
    assert (await ru.call("refund", {**one, "parentDocID": net.fiscalID, "items": [{**one["items"][0],
                                                                                  "itemQty": 2000}]})).code == 19
    assert (await ru.ok("rollback", {"documentID": gross.documentID})).code == 0
    # sums that add up neither way: 4
    for amount in (8999, 9001, 10000, 11000):
        a = await ru.call("sale", {"amount": amount, "items": [{**line, "itemAmount": 10000}],
                                   "payments": {"cashAmount": 20000}})
        assert a.code == (0 if amount == 10000 else 4), (amount, a)
    a = await ru.call("sale", {"amount": 9000, "items": [{**line, "itemAmount": 9001}],
                               "payments": {"cashAmount": 9000}})
    assert a.code == 4 and "8001" in a.message and "9001" in a.message


async def test_existing_rules_still_hold(fixed: Register) -> None:
    a = await fixed.call("sale", {**doc([{"taxPrc": 1800}]), "amount": 11801})
    assert a.code == 4
    s = await fixed.ok("sale", doc([{"taxPrc": 1800}]))
    over = {**doc([{"taxPrc": 1800}]), "parentDocID": s.fiscalID}
    over["items"][0]["itemQty"] = 2000
    assert (await fixed.call("refund", over)).code == 19
    assert (await fixed.call("refund", {**doc([{"taxPrc": 1800}]), "parentDocID": s.fiscalID,
                                        "items": [{"itemName": "other", "itemQty": 1000, "itemAmount": 11800}]}
                             )).code == 18
    assert (await fixed.call("refund", {**doc([{"taxPrc": 2200}]), "parentDocID": s.fiscalID})).code == 12
    corr = {"date_start": "2026-03-01", "date_stop": "2026-03-01", "cashAmount": 100}
    assert (await fixed.call("correction", {**corr, "vatAmounts": [{"vatPercent": 2200, "vatSum": 1}]})).code == 12
    assert (await fixed.ok("correction", {**corr, "vatAmounts": [{"vatPercent": 1800, "vatSum": 1}]})).code == 0
    assert (await fixed.ok("check_status", {"documentID": s.documentID})).documentExtID is UNSET
