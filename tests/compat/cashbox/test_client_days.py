"""A normal day of each point-of-sale client style, through signed HTTP, on a register with
the Russian VAT table and on one configured with a fixed list of rates (``--tax-rates``).

Each style sends what its client sends (tax entries, integers as strings, aliases, payment
kinds, itemAmount before or after the discount) and reads every answer with its declared
types (``support.cashbox_client_schemas``): a field of another JSON type fails the day.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from msgspec import UNSET

from kassagate.cashbox.virtual import read_journal
from support.cashbox_client_schemas import Payment, Types
from support.cashbox_compat import FOREIGN_RATES, Register, open_register


@dataclass(frozen=True)
class Style:
    """How one client builds its requests and which types it declares."""

    name: str
    types: Types
    tax: str  # java: taxRate/taxAmount; code_string: taxCode and taxPrc as numeric strings; int; vendor: "TVA A"
    strings: bool = False  # every integer sent as a string of digits
    net_amounts: bool = False  # itemAmount is the amount to pay (after the discount)
    ext_ids: bool = True  # sends documentExtID
    shift_ref: str = "id"  # x_report: "id" (the shiftID read), "empty" ("shiftID": ""), "none"
    credit_ref: str = "documentID"  # or "parentDocID" (the sale's fiscalID)
    dates: tuple[str, str] = ("dateFrom", "dateFor")
    extra_kinds: tuple[str, ...] = ()  # payment fields beyond cash and card this client uses

    def n(self, v: int) -> int | str:
        return str(v) if self.strings else v

    def taxes(self, rate: int, line: int) -> list[dict[str, Any]]:
        if self.tax == "java":  # (a line without VAT: {"taxRate": 0.0, "taxAmount": 0.0})
            vat = round(line * rate / (10000 + rate)) / 100
            return [{"taxRate": rate / 100, "taxAmount": vat}]
        if self.tax == "code_string":
            return [{"taxName": f"VAT {rate // 100}%", "taxCode": str(rate // 100), "taxPrc": str(rate)}]
        if self.tax == "vendor":
            return [{"taxName": "TVA A", "taxCode": "A", "taxPrc": rate, "calcType": 1}]
        return [{"taxName": "VAT", "taxCode": 1, "taxPrc": rate}]

    def item(self, name: str, qty: int, line: int, rate: int, discount: int = 0, **kw: Any) -> dict[str, Any]:
        """A position whose amount to pay is ``line`` (after ``discount``)."""
        amount = line if self.net_amounts else line + discount
        out: dict[str, Any] = {"itemName": name, "itemQty": self.n(qty), "itemAmount": self.n(amount),
                               "itemTaxes": self.taxes(rate, line), **kw}
        if discount:
            out["discount"] = self.n(discount)
        return out

    def doc(self, amount: int, items: list[dict[str, Any]], pay: dict[str, int], ext: int | None = None,
            **kw: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"amount": self.n(amount), "items": items,
                               "payments": {k: self.n(v) for k, v in pay.items()}, "employeeName": "Ana", **kw}
        if self.ext_ids and ext is not None:
            out["documentExtID"] = self.ext(ext)
        return out

    def ext(self, n: int) -> int | str:
        return 1000 + n if self.types.ext_id is int else f"POS-{n}"

    def ref(self, value: Any) -> Any:
        """A documentID or fiscalID sent back as the client holds it."""
        return str(value) if self.strings else value


JAVA = Style("java", Types(shift_id=str), tax="java", shift_ref="empty")
CSHARP_INT = Style("csharp-int", Types(fiscal_id=int, ext_id=int), tax="code_string")
CSHARP_SUBSTRING = Style("csharp-substring", Types(ext_id=int), tax="int", ext_ids=False)
CSHARP_CODES = Style("csharp-codes", Types(), tax="code_string", shift_ref="none")
TYPESCRIPT = Style("typescript", Types(), tax="int", strings=True, credit_ref="parentDocID",
                   dates=("date_start", "date_stop"), extra_kinds=("installmentAmount", "invoiceAmount"))
VENDOR = Style("vendor-example", Types(), tax="vendor", net_amounts=True, extra_kinds=("otherAmount",))
STYLES = [JAVA, CSHARP_INT, CSHARP_SUBSTRING, CSHARP_CODES, TYPESCRIPT, VENDOR]

#: Two rates each register accepts: (register's tax_rates, first rate, second rate).
REGISTERS = {"ru": (None, 2200, 1000), "fixed": (FOREIGN_RATES, 1800, 800)}
KIND_OF = {"otherAmount": "O", "installmentAmount": "I", "invoiceAmount": "F"}
REPORT_FIELD = {"otherAmount": "saleOtherSum", "installmentAmount": "saleInstallmentSum",
                "invoiceAmount": "saleInvoiceSum"}


@pytest.fixture(params=STYLES, ids=lambda s: s.name)
def style(request: pytest.FixtureRequest) -> Style:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=list(REGISTERS))
async def day_register(request: pytest.FixtureRequest, style: Style, tmp_path: Path
                       ) -> AsyncIterator[tuple[Register, int, int]]:
    rates, r1, r2 = REGISTERS[request.param]
    async for reg in open_register(tmp_path, style.types, auto_shift=False, tax_rates=rates):
        yield reg, r1, r2


def check_fiscal_id(style: Style, fid: Any) -> None:
    if style.types.fiscal_id is str:
        assert len(fid) >= 12 and fid[:12].isdigit(), fid  # a client takes the first 12 characters
    else:
        assert isinstance(fid, int) and fid > 0


async def test_a_normal_day(style: Style, day_register: tuple[Register, int, int]) -> None:
    reg, r1, r2 = day_register
    s = style
    drawer = 0

    shift = (await reg.ok("open_shift", {})).shiftID
    assert shift in (1, "1")

    # a cash sale with change
    cash_sale = await reg.ok("sale", s.doc(13000, [s.item("Bread", 2000, 5000, r1), s.item("Milk", 1000, 7000, r2),
                                                   s.item("Water", 1000, 1000, 0)],
                                           {"cashAmount": 20000}, ext=1))
    check_fiscal_id(s, cash_sale.fiscalID)
    assert cash_sale.change == 7000 and cash_sale.totalPayments == [Payment("C", 20000)]
    assert cash_sale.documentExtID == (s.ext(1) if s.ext_ids else UNSET)
    drawer += 13000

    # a card sale
    card = await reg.ok("sale", s.doc(3000, [s.item("Juice", 1000, 3000, r2)], {"cashlessAmount": 3000}, ext=2))
    assert card.totalPayments == [Payment("V", 3000)] and len(card.rrn) == 12 and card.cardNum

    # discounted lines (itemAmount read as this client means it)
    disc = await reg.ok("sale", s.doc(13500, [s.item("Cheese", 1000, 9000, r1, discount=1000),
                                              s.item("Tea", 1000, 4500, r2, discount=500)],
                                      {"cashAmount": 13500}, ext=3))
    drawer += 13500

    # a partial refund of the cash sale (one of two loaves), then more than is left
    refund = await reg.ok("refund", {**s.doc(2500, [s.item("Bread", 1000, 2500, r1)], {"cashAmount": 2500}, ext=4),
                                     "parentDocID": s.ref(cash_sale.fiscalID)})
    check_fiscal_id(s, refund.fiscalID)
    drawer -= 2500
    over = await reg.call("refund", {**s.doc(5000, [s.item("Bread", 2000, 5000, r1)], {"cashAmount": 5000}),
                                     "parentDocID": s.ref(cash_sale.fiscalID)})
    assert over.code == 19

    # rollback of the card sale
    await reg.ok("rollback", {"documentID": s.ref(card.documentID)})

    # an order, its preliminary bill, then its payment
    order = await reg.ok("order", s.doc(6000, [s.item("Soup", 2000, 6000, r2)], {}, ext=5))
    assert order.docStatus == 0 and order.shiftOrdersCnt == 1
    bill = await reg.ok("preorder", {"documentID": s.ref(order.documentID)})
    assert bill.amount == 6000
    paid = await reg.ok("sale", {"documentID": s.ref(order.documentID), "payments": {"cashAmount": s.n(10000)}})
    assert paid.documentID == order.documentID and paid.docStatus == 1 and paid.change == 4000
    drawer += 6000

    # an advance, then the sale that uses it
    advance = await reg.ok("prepay", s.doc(4000, [s.item("Cake", 1000, 4000, r1)], {"cashAmount": 4000}, ext=6))
    drawer += 4000
    used = await reg.ok("sale", {**s.doc(4000, [s.item("Cake", 1000, 4000, r1)], {"prepaymentAmount": 4000}, ext=7),
                                 "prepayDocID": s.ref(advance.documentID)})
    assert used.totalPayments == [Payment("P", 4000)]

    # a credit sale, then its repayment
    credit = await reg.ok("sale", s.doc(6000, [s.item("Kettle", 1000, 6000, r1)],
                                        {"cashAmount": 1000, "creditAmount": 5000}, ext=8, creditContract="L-1"))
    drawer += 1000
    ref = {"documentID": s.ref(credit.documentID)} if s.credit_ref == "documentID" else \
        {"parentDocID": s.ref(credit.fiscalID)}
    repay = await reg.ok("creditpay", {**ref, "creditContract": "L-1", "payments": {"cashAmount": s.n(5000)}})
    assert repay.totalPayments == [Payment("C", 5000)]
    drawer += 5000

    # the payment kinds beyond the protocol's five that this client uses
    for i, kind in enumerate(s.extra_kinds):
        other = await reg.ok("sale", s.doc(1500, [s.item("Cup", 1000, 1500, r2)], {kind: 1500}, ext=20 + i))
        assert other.totalPayments == [Payment(KIND_OF[kind], 1500)]

    # cash in and out, a correction
    dep = await reg.ok("deposit", {"amount": s.n(10000)})
    drawer += 10000
    assert dep.cash == drawer
    out = await reg.ok("withdraw", {"amount": s.n(3000)})
    drawer -= 3000
    assert out.cash == drawer
    corr = await reg.ok("correction", {"date_start": "2026-03-01", "date_stop": "2026-03-01", "correctionType": 0,
                                       "cashAmount": s.n(500), "vatAmounts": [{"vatPercent": s.n(r1), "vatSum": 76}]})
    check_fiscal_id(s, corr.fiscalID)
    drawer += 500

    # the X report of the current shift, as this client names it
    x_req = {"id": {"shiftID": s.ref(shift)}, "empty": {"shiftID": ""}, "none": {}}[s.shift_ref]
    x = await reg.ok("x_report", x_req)
    assert x.shiftID == shift and x.cash == drawer and x.cashIn == 10000 and x.cashOut == 3000
    assert x.saleCount == 6 + len(s.extra_kinds) and x.moneyBackCount == 2  # the refund and the rollback
    assert x.saleCashlessSum == 3000 and x.saleCreditSum == 5000 and x.salePrepaymentSum == 4000
    for kind in s.extra_kinds:
        assert getattr(x, REPORT_FIELD[kind]) == 1500
    vat = {v.vatPercent: v.vatAmount for v in x.saleVatAmounts}
    assert set(vat) == {r1, r2, 0} and vat[r1] > 0 and vat[r2] > 0 and vat[0] == 0
    assert x.creditPayCount == 1 and x.creditPayCashSum == 5000 and x.correctionCount == 1

    # copies, the status and the last document
    copy = await reg.ok("check_copy", {"documentID": s.ref(cash_sale.documentID)})
    assert copy.fiscalID == cash_sale.fiscalID and copy.amount == 13000 and len(copy.items) == 3
    status = await reg.ok("check_status", {"documentID": s.ref(disc.documentID)})
    assert status.fiscalID == disc.fiscalID and status.docStatus == 1
    last = await reg.ok("last_document", {})
    assert last.documentID == corr.documentID
    if s.ext_ids:
        found = await reg.ok("last_document", {"documentExtID": s.ext(3)})
        assert found.documentID == disc.documentID and found.documentExtID == s.ext(3)

    # the shift: not closed with cash in the drawer; closed once it is withdrawn
    assert (await reg.call("close_shift", {})).code == 27
    await reg.ok("withdraw", {"amount": s.n(drawer)})
    z = await reg.ok("close_shift", {})
    assert z.shiftID == shift and z.cash == 0 and z.saleCount == x.saleCount
    assert (await reg.ok("check_shift", {})).isShiftOpen == "false"

    # the day's totals
    report = await reg.ok("dates_report", {s.dates[0]: "2026-03-02", s.dates[1]: "2026-03-02"})
    assert report.saleCount == x.saleCount and report.shiftCount == 1 and report.depositSum == 10000

    # the journal says how each document's itemAmount was read
    lines = {line["documentID"]: line for line in read_journal(reg.path)}
    assert lines[disc.documentID]["itemAmountReading"] == ("net" if s.net_amounts else "gross")
    assert lines[cash_sale.documentID]["itemAmountReading"] == "gross"  # no discount: both readings agree
