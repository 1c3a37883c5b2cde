"""Fiscal receipts: ``/sale`` (and the payment of an order), ``/prepay``, ``/refund``,
``/rollback``, ``/creditpay``; the one path every receipt takes (``receipt``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kassagate.core.codes import CashboxCode as C
from kassagate.core.fn import FnRefused
from kassagate.core.qr import build_qr
from kassagate.core.register import rules
from kassagate.core.register.endpoints.common import CARD_EMPTY, echo_ext, fiscal_id
from kassagate.core.register.endpoints.shifts import ensure_shift
from kassagate.core.register.model import CashboxError, Doc
from kassagate.core.register.rules import MAX_MONEY, Item, get_bool, get_int, get_str

if TYPE_CHECKING:
    from kassagate.core.register.engine import Ctx, Register

#: The report category of a receipt by its settlement sign (1054).
_CATEGORY_OF_SIGN = {1: "sale", 2: "moneyBack", 3: "purchase", 4: "purchaseBack"}
_CARD_BINS = ("220220", "427638", "537541", "400000", "510621")

#: An endpoint's own rules: given the positions and payments, raise or return what to do
#: once the document exists.
Check = Callable[[list[Item], dict[str, int]], Callable[[Doc], None] | None]


def terminal(reg: Register, amount: int, cx: Ctx, rrn: str | None = None) -> dict[str, str]:
    """The virtual bank terminal's card fields of a cashless payment of ``amount``."""
    if amount <= 0:
        return dict(CARD_EMPTY)
    if reg.state.terminal_fail:
        raise CashboxError(C.PAYMENT_TYPE_UNSUPPORTED, "cashless payment refused: the bank terminal is not "
                                                       "available; pay another way or retry later")
    reg.state.terminal_checks += 1
    r = cx.rng
    # n digits, zero-padded: the last n digits of 10**n + a number below 10**n
    return {
        "rrn": rrn or str(10**12 + r.randrange(10**12))[1:],
        "auth": str(10**6 + r.randrange(10**6))[1:],
        "cardNum": f"{r.choice(_CARD_BINS)}******{str(10**4 + r.randrange(10**4))[1:]}",
        "checkNum": str(reg.state.terminal_checks),
    }


def receipt(reg: Register, req: dict[str, Any], cx: Ctx, *, kind: str, origin: str, signs: tuple[int, ...],
            any_rate: bool = False, into: Doc | None = None, check: Check | None = None,
            card_rrn: str | None = None,
            identity: tuple[str | None, str | None, str | None, str | None] | None = None,
            rates: frozenset[int] | None = None) -> dict[str, Any]:
    """Validate, take payment, fiscalize and print one receipt; ``check`` adds the
    endpoint's own rules and returns what to do once the document exists."""
    ext, idem, doc_time, number = identity or reg.identity(req)
    amount = req.get("amount")
    if amount.__class__ is not int or not 0 <= amount <= MAX_MONEY:
        amount = get_int(req, "amount", required=True)
    items = rules.parse_items(req.get("items"), day=cx.now.date(), any_rate=any_rate, prepay=kind == "prepay",
                              rates=rates or reg.rates())
    items, reading = rules.check_amount(items, amount)
    sign = rules.check_extensions(req, allowed_signs=signs)
    pays = rules.parse_payments(req)
    change = rules.settle(pays, amount)
    after = check(items, pays) if check is not None else None
    ensure_shift(reg, cx)
    fn = reg.drive()
    try:
        fn.check("receipt", cx.now)
    except FnRefused as e:
        raise CashboxError(C.INTERNAL, e.message, fnState=e.state) from None
    rrn = card_rrn
    payments = req.get("payments")
    if isinstance(payments, dict) and payments.get("rrn") not in (None, ""):
        rrn = str(payments["rrn"])[:32]
    card = terminal(reg, pays["V"], cx, rrn if kind in ("refund", "rollback") else None)
    fd, fp = fn.issue("receipt", cx.now, amount, sign, checked=True)  # checked: cannot refuse now
    s = reg.state
    s.shift_docs += 1
    s.shift_receipts += 1
    net = rules.net_payments(pays, change)
    s.cash += net["C"] if sign in (1, 4) else -net["C"]
    cat = _CATEGORY_OF_SIGN[sign]
    if kind == "prepay":
        cat = "prepay"
    elif kind == "creditpay":
        cat = "creditPay"
    if into is None:
        doc = reg.new_doc(kind, origin, cx)
    else:
        doc = into
        doc.kind, doc.status, doc.shift, doc.time = kind, 1, s.shift_number, cx.ts
    doc.fd, doc.fp, doc.sign, doc.amount = fd, fp, sign, amount
    doc.doc_time, doc.doc_number = doc_time or doc.doc_time, number or doc.doc_number
    doc.ext_id, doc.idem = ext or doc.ext_id, idem or doc.idem
    doc.request = req
    pay: dict[str, int] = {}
    for k, v in net.items():
        if v:
            pay[k] = v
    doc.summary = {"cat": cat, "pay": pay, "vat": rules.vat_sums(items), "reading": reading}
    if pays["K"] and kind == "sale":
        doc.progress["credit_left"] = pays["K"]
    if kind == "prepay":
        doc.progress["left"] = amount
    if card["rrn"]:
        doc.progress["rrn"] = card["rrn"]
    if after is not None:
        after(doc)
    qr = build_qr(when=cx.now, total=amount, fn_serial=fn.serial, fd=fd, fp=fp, sign=sign)
    doc.answer = {
        "status": "success", "code": 0, "message": "", "printError": reg.print_error(req),
        "documentID": doc.id, "fiscalID": fiscal_id(fd), "fiscalNum": str(fd),
        "docTime": doc.doc_time or cx.ts, "printTime": cx.ts, "docStatus": 1, **card,
        "totalPayments": [{"code": k, "amount": v} for k, v in pays.items() if v],
        "change": change, "shiftOrdersCnt": s.open_orders,
        "extraParams": reg.extra_params(doc, fd_type="receipt", qr=qr),
    }
    echo_ext(doc.answer, req)
    reg.count(doc)
    if into is None:
        reg.store.add(doc)
    else:
        reg.store.update(doc)
    return dict(doc.answer)


def sale(reg: Register, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
    if req.get("documentID") not in (None, "", 0):
        return _pay_order(reg, req, cx)
    ident = reg.identity(req)
    hit = reg.replay("sale", ident[0], ident[1])
    if hit is not None:
        return reg.answer_of(hit)
    return receipt(reg, req, cx, kind="sale", origin="sale", signs=(1, 3), check=_prepay_check(reg, req),
                   identity=ident)


def _prepay_check(reg: Register, req: dict[str, Any]) -> Check:
    def check(items: list[Item], pays: dict[str, int]) -> Callable[[Doc], None] | None:
        if pays["P"] == 0 or get_bool(req, "prepaymentExternal"):
            return None
        if req.get("prepayDocID") in (None, "") and req.get("prepayDocNum") in (None, ""):
            raise CashboxError(C.PREPAY_DOC_MISSING, "prepaymentAmount is set but prepayDocID (the documentID "
                                                     "of the prepayment receipt) is missing")
        if req.get("prepayDocID") not in (None, ""):
            pid = get_int(req, "prepayDocID", minimum=1, maximum=2**62, range_code=C.NOT_FOUND)
            pdoc = reg.store.get(pid)
        else:
            pnum = get_int(req, "prepayDocNum", minimum=1, maximum=2**62, range_code=C.NOT_FOUND)
            pdoc = reg.store.by_fd(pnum)
        if pdoc is None or pdoc.kind != "prepay":
            raise CashboxError(C.NOT_FOUND, "the prepayment receipt named by prepayDocID/prepayDocNum "
                                            "was not found")
        pitems = reg.items_of(pdoc)
        for it in items:
            if not any(p.matches(it) for p in pitems):
                raise CashboxError(C.PREPAY_ITEM_NOT_FOUND, f"items[{it.index}] ({it.name!r}) is not in the "
                                                            f"prepayment receipt {pdoc.id}")
        left = int(pdoc.progress.get("left", pdoc.amount))
        if pays["P"] > left:
            raise CashboxError(C.AMOUNT_MISMATCH, f"prepaymentAmount {pays['P']} exceeds the advance left on "
                                                  f"prepayment receipt {pdoc.id}: {left}")

        def after(doc: Doc) -> None:
            pdoc.progress["left"] = left - pays["P"]
            reg.store.update(pdoc)
            doc.parent_id = pdoc.id
        return after
    return check


def _pay_order(reg: Register, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
    oid = reg.doc_ref(req)
    order = reg.get(oid)
    if order.origin != "order":
        raise CashboxError(C.NOT_FOUND, f"document {oid} is not an order")
    if order.status == 1:
        return reg.answer_of(order)
    if order.status == 2:
        raise CashboxError(C.NOT_FOUND, f"order {oid} was deleted when its shift was closed")
    merged = {**order.request, **{k: v for k, v in req.items() if k != "documentID"}}
    reg.state.open_orders -= 1
    return receipt(reg, merged, cx, kind="sale", origin="order", signs=(1, 3), into=order,
                   check=_prepay_check(reg, merged))


def prepay(reg: Register, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
    ext, idem, _, _ = reg.identity(req)
    hit = reg.replay("prepay", ext, idem)
    if hit is not None:
        return reg.answer_of(hit)
    return receipt(reg, req, cx, kind="prepay", origin="prepay", signs=(1,))


def refund(reg: Register, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
    ext, idem, _, _ = reg.identity(req)
    hit = reg.replay("refund", ext, idem)
    if hit is not None:
        return reg.answer_of(hit)
    ref = get_str(req, "parentDocID", max_len=32)
    if ref is None:
        return receipt(reg, req, cx, kind="refund", origin="refund", signs=(2, 4), any_rate=True)
    parent = reg.store.by_fd(int(ref)) if ref.isascii() and ref.isdigit() and len(ref) < 19 else None
    if parent is None or parent.kind != "sale":
        raise CashboxError(C.NOT_FOUND, f"parentDocID {ref!r}: no sale with this fiscalID")
    pitems = reg.items_of(parent)
    refunded: dict[str, int] = parent.progress.get("refunded", {})

    def check(items: list[Item], pays: dict[str, int]) -> Callable[[Doc], None]:
        pending: dict[str, int] = {}
        for it in items:
            match = next((p for p in pitems if p.matches(it)), None)
            if match is None:
                raise CashboxError(C.REFUND_ITEM_NOT_FOUND, f"items[{it.index}] ({it.name!r}) is not in sale "
                                                            f"{parent.id} (fiscalID {ref})")
            key = str(match.index)
            pending[key] = pending.get(key, 0) + it.qty
            done = refunded.get(key, 0)
            if done + pending[key] > match.qty:
                raise CashboxError(C.REFUND_QTY_EXCEEDED, f"items[{it.index}] ({it.name!r}): refunding "
                                   f"{pending[key]} of {match.qty} sold, {done} already refunded")

        def after(doc: Doc) -> None:
            for k, q in pending.items():
                refunded[k] = refunded.get(k, 0) + q
            parent.progress["refunded"] = refunded
            reg.store.update(parent)
            doc.parent_id = parent.id
        return after

    return receipt(reg, req, cx, kind="refund", origin="refund", signs=((parent.sign or 1) + 1,),
                   any_rate=True, check=check, card_rrn=parent.progress.get("rrn"))


def rollback(reg: Register, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
    doc = reg.get(reg.doc_ref(req))
    if doc.fd is None or doc.kind not in ("sale", "prepay", "creditpay"):
        raise CashboxError(C.NOT_FISCALIZED, f"document {doc.id} ({doc.kind}) was never fiscalized as a receipt: "
                                             "nothing to roll back")
    if doc.progress.get("refunded") or doc.progress.get("rolled_back"):
        raise CashboxError(C.ALREADY_REFUNDED, f"document {doc.id} was already refunded in part or in full")
    if doc.kind == "prepay" and doc.progress.get("left", doc.amount) != doc.amount:
        raise CashboxError(C.ALREADY_REFUNDED, f"prepayment {doc.id} was already used by a sale")
    if doc.kind == "sale" and doc.progress.get("credit_left", 0) != doc.summary.get("pay", {}).get("K", 0):
        raise CashboxError(C.ALREADY_REFUNDED, f"sale {doc.id}'s loan was already repaid in part")
    pay = doc.summary.get("pay", {})
    body = {
        "amount": doc.amount, "items": doc.request.get("items", []), "settlementSign": (doc.sign or 1) + 1,
        "payments": {rules.PAYMENT_KINDS[k]: v for k, v in pay.items()},
        "skipReceiptPrint": get_bool(req, "skipReceiptPrint"),
    }
    if doc.kind == "creditpay":
        body["items"] = [{"itemName": "credit repayment", "itemQty": 1000, "itemAmount": doc.amount}]

    def after(new: Doc) -> None:
        doc.progress["rolled_back"] = new.id
        doc.progress["refunded"] = {str(i.index): i.qty for i in reg.items_of(doc)} if doc.kind == "sale" else {}
        reg.store.update(doc)
        new.parent_id = doc.id
    if doc.summary.get("reading") == rules.NET:  # the positions as the document was read
        body["items"] = [{**it, "itemAmount": i.amount} if isinstance(it, dict) else it
                         for it, i in zip(body["items"], reg.items_of(doc), strict=True)]
    return receipt(reg, body, cx, kind="rollback", origin="rollback", signs=((doc.sign or 1) + 1,),
                   any_rate=True, check=lambda items, pays: after, card_rrn=doc.progress.get("rrn"),
                   rates=rules.ANY_PERCENT)


def creditpay(reg: Register, req: dict[str, Any], cx: Ctx) -> dict[str, Any]:
    ext, idem, _, _ = reg.identity(req)
    hit = reg.replay("creditpay", ext, idem)
    if hit is not None:
        return reg.answer_of(hit)
    sale = _credit_sale(reg, req)
    if sale.kind != "sale" or "credit_left" not in sale.progress:
        raise CashboxError(C.NOT_FOUND, f"document {sale.id} is not a credit sale")
    contract = get_str(req, "creditContract", max_len=128)
    if contract is not None and contract != sale.request.get("creditContract", contract):
        raise CashboxError(C.NOT_FOUND, f"sale {sale.id} has another creditContract")
    pays = rules.parse_payments(req)
    kinds = [k for k, v in pays.items() if v > 0]
    if len(kinds) > 1:
        raise CashboxError(C.LOAN_ONE_PAYMENT_TYPE, f"a loan repayment is paid with one payment type only, got "
                                                    f"{', '.join(kinds)}")
    if not kinds:
        raise CashboxError(C.NOT_FULLY_PAID, "the repayment carries no payment")
    kind = kinds[0]
    if kind not in ("C", "V"):
        raise CashboxError(C.PAYMENT_TYPE_UNSUPPORTED, f"a loan is repaid in cash (C) or cashless (V), not {kind}")
    first = sale.progress.get("repay_kind")
    if first is not None and first != kind:
        raise CashboxError(C.LOAN_SINGLE_PAYMENT_TYPE, f"the loan of sale {sale.id} is being repaid with "
                                                       f"payment type {first}: keep to one payment type")
    value = pays[kind]
    left = int(sale.progress["credit_left"])
    if value > left:
        raise CashboxError(C.AMOUNT_MISMATCH, f"the repayment {value} exceeds what is left of the loan: {left}")
    if req.get("amount") is not None and get_int(req, "amount") != value:
        raise CashboxError(C.AMOUNT_MISMATCH, f"amount {req.get('amount')} differs from the payment {value}")
    body = {**req, "amount": value,
            "items": [{"itemName": f"credit repayment, sale {sale.id}", "itemQty": 1000, "itemAmount": value,
                       "paymentMethod": 7}]}

    def after(doc: Doc) -> None:
        sale.progress["credit_left"] = left - value
        sale.progress["repay_kind"] = kind
        reg.store.update(sale)
        doc.parent_id = sale.id
    return receipt(reg, body, cx, kind="creditpay", origin="creditpay", signs=(1,), check=lambda items, p: after)


def _credit_sale(reg: Register, req: dict[str, Any]) -> Doc:
    """The sale a repayment names: ``documentID``, or ``parentDocID`` = its fiscalID (as
    in ``/refund``)."""
    if req.get("documentID") in (None, "") and req.get("parentDocID") not in (None, ""):
        fd = get_int(req, "parentDocID", minimum=1, maximum=2**62, range_code=C.NOT_FOUND)
        sale = reg.store.by_fd(fd)
        if sale is None:
            raise CashboxError(C.NOT_FOUND, f"parentDocID {req['parentDocID']!r}: no sale with this fiscalID")
        return sale
    if req.get("documentID") in (None, ""):
        raise CashboxError(C.MISSING_PARAMETER, "required parameter documentID (or parentDocID, the sale's "
                                                "fiscalID) is missing")
    return reg.get(reg.doc_ref(req))
