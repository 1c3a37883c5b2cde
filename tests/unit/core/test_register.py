"""The register's document rules (pure core, in-memory store): property tests of sums,
change, tax percents, refund quantities and FD numbering."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kassagate.core.fn import FiscalDrive
from kassagate.core.register import MemoryStore, Register, RegisterState, reports
from kassagate.core.register.model import CashboxError
from kassagate.core.register.rules import check_amount, parse_items, parse_payments, settle
from kassagate.core.tables import ALL_TAX_PERCENTS, tax_percents_valid_on
from support.profiles import examples

MSK = dt.timezone(dt.timedelta(hours=3))
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=MSK)


def make(auto_shift: bool = True, capacity: int = 250_000) -> Register:
    fn = FiscalDrive(serial="9999078900006825", reg_number="0000000001012345", key_hex="11" * 32,
                     registered_at="2026-01-01T00:00:00", capacity=capacity, last_fd=1)
    return Register(RegisterState(kkt_serial="1", merchant_id="m", fn=fn, auto_shift=auto_shift, last_doc_id=1),
                    MemoryStore())


def call(r: Register, endpoint: str, req: dict[str, Any], now: dt.datetime = NOW) -> dict[str, Any]:
    return r.handle(endpoint, req, now, random.Random(0))


items_st = st.lists(st.tuples(st.integers(1, 10**6), st.integers(0, 10**7), st.integers(0, 10**7)),
                    min_size=1, max_size=8)


@given(items_st, st.one_of(st.integers(-3, 3), st.just("discounts")))
def test_amount_must_equal_sum_of_lines(lines: list[tuple[int, int, int]], delta: int | str) -> None:
    if delta == "discounts":
        delta = sum(d for _, _, d in lines)
    assert isinstance(delta, int)
    items = [{"itemName": f"i{i}", "itemQty": q, "itemAmount": a + d, "discount": d} for i, (q, a, d) in
             enumerate(lines)]
    total = sum(a for _, a, _ in lines)
    discounts = sum(d for _, _, d in lines)
    r = make()
    ans = call(r, "sale", {"amount": total + delta, "items": items, "payments": {"cashAmount": total + delta + 5}})
    # amount = Σ(itemAmount − discount) (itemAmount before discount), or Σ itemAmount (after it)
    if delta == 0 or (discounts and delta == discounts):
        assert ans["code"] == 0 and ans["change"] == 5
    else:
        assert ans["code"] == 4


@given(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**6))
def test_settle_change_only_from_cash(amount: int, cash: int, card: int, bonus: int) -> None:
    pays = parse_payments({"payments": {"cashAmount": cash, "cashlessAmount": card, "bonusesAmount": bonus}})
    paid = cash + card + bonus
    if paid < amount:
        with pytest.raises(Exception) as e:
            settle(pays, amount)
        assert e.value.code == 8  # type: ignore[attr-defined]
    elif card + bonus > amount:
        with pytest.raises(Exception) as e:
            settle(pays, amount)
        assert e.value.code == 11  # type: ignore[attr-defined]
    else:
        change = settle(pays, amount)
        assert change == paid - amount and 0 <= change <= cash


@given(st.integers(-5, 10_010), st.sampled_from([dt.date(2025, 6, 1), dt.date(2026, 3, 2)]), st.booleans())
def test_tax_percent_acceptance(prc: int, day: dt.date, any_rate: bool) -> None:
    raw = [{"itemName": "x", "itemQty": 1000, "itemAmount": 100, "itemTaxes": [{"taxPrc": prc}]}]
    try:
        parse_items(raw, day=day, any_rate=any_rate)
        code = 0
    except Exception as e:
        code = e.code  # type: ignore[attr-defined]
    if not 0 <= prc <= 10000:
        assert code == 16
    elif prc == 0 or prc in (ALL_TAX_PERCENTS if any_rate else tax_percents_valid_on(day)):
        assert code == 0
    else:
        assert code == 12


@settings(max_examples=examples(60), deadline=None)
@given(st.integers(1, 5), st.lists(st.integers(1, 4), max_size=6))
def test_refund_quantities_never_exceed_sold(sold: int, refunds: list[int]) -> None:
    r = make()
    s = call(r, "sale", {"amount": sold * 100, "items": [{"itemName": "x", "itemQty": sold * 1000,
                                                          "itemAmount": sold * 100}],
                         "payments": {"cashAmount": sold * 100}})
    done = 0
    for q in refunds:
        a = call(r, "refund", {"parentDocID": s["fiscalID"], "amount": q * 100,
                               "items": [{"itemName": "x", "itemQty": q * 1000, "itemAmount": q * 100}],
                               "payments": {"cashAmount": q * 100}})
        if done + q <= sold:
            assert a["code"] == 0
            done += q
        else:
            assert a["code"] == 19
    rb = call(r, "rollback", {"documentID": s["documentID"]})
    assert rb["code"] == (36 if done else 0)


ops_st = st.lists(st.sampled_from(["sale", "bad_sale", "refund", "deposit", "withdraw", "close", "open", "order",
                                   "correction", "later"]), max_size=40)


@settings(max_examples=examples(60), deadline=None)
@given(ops_st, st.booleans())
def test_fd_numbering_over_random_operations(ops: list[str], auto: bool) -> None:
    r = make(auto_shift=auto)
    now = NOW
    store = r.store
    assert isinstance(store, MemoryStore)
    for op in ops:
        if op == "later":
            now += dt.timedelta(hours=7)
            continue
        req: dict[str, Any] = {"amount": 100, "items": [{"itemName": "x", "itemQty": 1000, "itemAmount": 100}],
                               "payments": {"cashAmount": 100}}
        endpoint = {"bad_sale": "sale", "close": "close_shift", "open": "open_shift"}.get(op, op)
        if op == "bad_sale":
            req["amount"] = 99
        elif op in ("deposit", "withdraw"):
            req = {"amount": 50}
        elif op == "close":
            req = {"openOrdersOperation": "delete"}
        elif op == "open":
            req = {}
        elif op == "correction":
            req = {"date_start": "2026-01-01", "date_stop": "2026-01-02", "cashAmount": 10}
        before = r.state.clone()
        a = call(r, endpoint, req, now)
        if a["code"] != 0:
            assert r.state == before  # an error changes nothing
    fds = sorted(d.fd for d in store.docs.values() if d.fd is not None)
    assert fds == list(range(2, r.state.fn.last_fd + 1))  # type: ignore[union-attr]
    # the drawer holds exactly what the documents moved
    moved = 0
    for d in store.docs.values():
        if d.kind == "deposit":
            moved += d.amount
        elif d.kind == "withdraw":
            moved -= d.amount
        elif d.fd is not None and d.sign is not None:
            c = d.summary.get("pay", {}).get("C", 0)
            moved += c if d.sign in (1, 4) else -c
    assert r.state.cash == moved
    # the running shift totals equal the totals of the shift's documents
    if r.state.shift_open:
        assert reports.render(r.state.shift_totals) == reports.totals(store.of_shift(r.state.shift_number))


def test_error_answer_rolls_back_auto_opened_shift() -> None:
    r = make()
    a = call(r, "sale", {"amount": 100, "items": [{"itemName": "x", "itemQty": 1000, "itemAmount": 100}],
                         "payments": {"cashAmount": 99}})
    assert a["code"] == 8
    assert not r.state.shift_open and r.state.fn.last_fd == 1  # type: ignore[union-attr]
    assert isinstance(r.store, MemoryStore) and not r.store.docs


def test_exhaustion_mid_rotation_refuses_whole_document() -> None:
    r = make(capacity=4)
    ok = {"amount": 100, "items": [{"itemName": "x", "itemQty": 1000, "itemAmount": 100}],
          "payments": {"cashAmount": 100}}
    assert call(r, "sale", ok)["code"] == 0  # FD 2 shift, FD 3 sale
    a = call(r, "sale", ok, NOW + dt.timedelta(hours=23, minutes=59))  # close FD 4, reopen refused
    assert a["code"] == 5 and a["fnState"] == "full"
    assert r.state.fn.last_fd == 3 and r.state.shift_open  # type: ignore[union-attr]


def test_unregistered_register_cannot_fiscalize() -> None:
    r = Register(RegisterState(kkt_serial="1", merchant_id="m", fn=None), MemoryStore())
    a = call(r, "sale", {"amount": 1, "items": [{"itemName": "x", "itemQty": 1000, "itemAmount": 1}],
                         "payments": {"cashAmount": 1}})
    assert a["code"] == 5 and a["fnState"] == "none"
    assert call(r, "open_shift", {})["code"] == 39
    info = call(r, "get_info", {})
    assert info["registered"] is False and info["fnState"] == "none"


def test_secrets_stay_out_of_reprs() -> None:
    r = make()
    r.state.merchant_id = "very-secret-merchant"
    text = repr(r.state)
    assert "very-secret-merchant" not in text and "11" * 32 not in text


any_op = st.tuples(
    st.sampled_from(["sale", "refund", "rollback", "order", "preorder", "prepay", "creditpay", "check_status",
                     "check_copy", "last_document", "x_report", "open_shift", "close_shift", "check_shift",
                     "deposit", "withdraw", "get_info", "control_tape", "correction", "dates_report"]),
    st.integers(0, 12),  # a document id / FD number / shift to point at
    st.sampled_from(["C", "V", "K", "P", "CV"]),
    st.integers(0, 3),  # hours to wait before
)


@settings(max_examples=examples(80), deadline=None)
@given(st.lists(any_op, max_size=30), st.booleans())
def test_any_sequence_of_requests_answers_with_a_protocol_code(ops: list[tuple[str, int, str, int]],
                                                                 auto: bool) -> None:
    r = make(auto_shift=auto)
    now = NOW
    for endpoint, ref, kinds, wait in ops:
        now += dt.timedelta(hours=wait)
        amount = 300
        pays = {"C": {"cashAmount": amount}, "V": {"cashlessAmount": amount}, "K": {"creditAmount": amount},
                "P": {"prepaymentAmount": amount}, "CV": {"cashAmount": 100, "cashlessAmount": 200}}[kinds]
        req: dict[str, Any] = {
            "amount": amount, "items": [{"itemName": "x", "itemQty": 3000, "itemAmount": amount, "itemId": "1"}],
            "payments": pays, "documentID": ref, "parentDocID": str(ref), "prepayDocID": ref, "shiftID": ref % 4,
            "fiscalID": ref, "date_start": "2026-01-01", "date_stop": "2026-01-02", "cashAmount": 5,
            "dateFrom": "2026-03-01", "dateFor": "2026-03-05", "openOrdersOperation": "delete",
        }
        if endpoint in ("sale", "order", "prepay", "refund") and ref % 2:
            del req["documentID"]
        a = call(r, endpoint, req, now)  # an internal error would raise here
        assert isinstance(a["code"], int) and a["status"] == ("success" if a["code"] == 0 else "error")
    fds = sorted(d.fd for d in r.store.docs.values() if d.fd is not None)  # type: ignore[attr-defined]
    assert fds == list(range(2, r.state.fn.last_fd + 1))  # type: ignore[union-attr]


@given(st.integers(-5, 10_010), st.sampled_from([[1800, 800, 200, 0], [2000, 900], [2200]]), st.booleans(),
       st.sampled_from(["taxPrc", "taxPrc-text", "taxRate"]))
def test_a_fixed_rate_list_accepts_exactly_its_percents(prc: int, rates: list[int], any_rate: bool,
                                                        form: str) -> None:
    entry: dict[str, Any] = {"taxPrc": prc, "taxCode": "A"} if form == "taxPrc" else \
        {"taxPrc": str(prc)} if form == "taxPrc-text" else {"taxRate": prc / 100}
    raw = [{"itemName": "x", "itemQty": 1000, "itemAmount": 100, "itemTaxes": [entry]}]
    try:
        items = parse_items(raw, day=NOW.date(), any_rate=any_rate, rates=frozenset(rates))
        code = 0
    except CashboxError as e:
        code = int(e.code)
    if not 0 <= prc <= 10000:
        assert code == 16
    elif prc in rates:
        assert code == 0 and items[0].taxes[0].percent == prc
    else:
        assert code == 12


@given(st.lists(st.tuples(st.integers(0, 10**7), st.integers(0, 10**6)), min_size=1, max_size=6),
       st.sampled_from(["gross", "net", "neither"]))
def test_item_amount_read_before_or_after_the_discount(lines: list[tuple[int, int]], form: str) -> None:
    """The same lines (amount to pay, discount) sent either way are the same positions."""
    to_pay = sum(p for p, _ in lines)
    gross_items = [{"itemName": f"i{i}", "itemQty": 1000, "itemAmount": p + d, "discount": d}
                   for i, (p, d) in enumerate(lines)]
    net_items = [{**it, "itemAmount": p} for it, (p, _) in zip(gross_items, lines, strict=True)]
    raw = net_items if form == "net" else gross_items
    amount = to_pay + (1 if form == "neither" else 0)
    items = parse_items(raw, day=NOW.date(), any_rate=False)
    try:
        read, reading = check_amount(items, amount)
    except CashboxError as e:
        assert form == "neither" and e.code == 4
        return
    if form == "neither":  # accepted only as Σ itemAmount, when the discounts total the one kopeck
        assert sum(d for _, d in lines) == 1 and reading == "net"
        return
    assert reading == ("net" if form == "net" and any(d for _, d in lines) else "gross")
    assert [(i.amount, i.discount) for i in read] == [(p + d, d) for p, d in lines]


def test_stored_answers_in_other_forms_are_answered_in_the_current_ones() -> None:
    r = make()
    s = call(r, "sale", {"amount": 100, "items": [{"itemName": "x", "itemQty": 1000, "itemAmount": 100}],
                         "payments": {"cashAmount": 100}})
    doc = r.store.get(s["documentID"])
    assert doc is not None
    doc.answer = {**doc.answer, "fiscalID": str(doc.fd), "documentExtID": ""}
    r.store.update(doc)
    again = call(r, "check_status", {"documentID": s["documentID"]})
    assert again["fiscalID"] == s["fiscalID"] == f"{doc.fd:012d}" and "documentExtID" not in again
