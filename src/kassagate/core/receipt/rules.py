"""The receipt's rules: :func:`parse_receipt` checks a decoded JSON object against every
rule and returns a typed, frozen :class:`Receipt`; the first broken rule raises
:class:`ReceiptError` with the field path (``products_arr[2].summa``, 0-based indexes) and
a message saying what was expected. The rules, their paths and messages are listed in
``docs/receipt.md``.

Pure: no I/O, no clock; ``today`` is passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from kassagate.core.receipt.coerce import (
    DIGITS_RE,
    Obj,
    as_object,
    describe,
    join_path,
    pick,
    read_date,
    read_email,
    read_enum,
    read_inn,
    read_int,
    read_money,
    read_phone,
    read_text,
    read_unix_date,
)
from kassagate.core.receipt.products import parse_product
from kassagate.core.receipt.tags import (
    CHECK_SEND_TYPES,
    CORRECTION_TYPES,
    KORR_DATE_NAMES,
    KORR_NUMBER_NAMES,
    KORR_TYPE_NAMES,
    KORR_VAT_FIELDS,
    MAX_CMS,
    MAX_EMAIL,
    MAX_KASSAID,
    MAX_KASSATOKEN,
    MAX_KASSIR_FIO,
    MAX_NAME_DOC_KORR,
    MAX_NAME_POKUPATEL,
    MAX_NAME_ZAKAZ,
    MAX_NOMER_PREDPISANIYA,
    MAX_PRODUCTS,
    SETTLEMENT_SIGNS,
    TAX_SYSTEM_CODES,
    TAX_SYSTEM_NAMES,
)
from kassagate.core.receipt.types import Correction, Payment, Product, Receipt, ReceiptError, Total
from kassagate.core.tables import (
    MAX_VEND_ADDRESS,
    MAX_VEND_MACHINE_NUMBER,
    MAX_VEND_PLACE,
    PAYMENT_FORMS,
    VAT_RATES,
    SettlementSign,
)


def parse_receipt(obj: Any, *, today: dt.date) -> Receipt:
    """Check ``obj`` (the decoded layer 1 JSON) against every receipt rule; ``today`` is the
    settlement date (the acceptance date, local to the merchant) used by the VAT table."""
    return parse(obj, today=today)


def parse(obj: Any, *, today: dt.date | None) -> Receipt:
    if not isinstance(obj, dict):
        raise ReceiptError("receipt", f"expected a JSON object, got {describe(obj)}")
    top = Obj(obj, "")

    kassaid = read_text(top.required("kassaid"), "kassaid", max_len=MAX_KASSAID, required=True, numbers_ok=True)
    if today is None and obj.get("kassatoken") is None:
        kassatoken = ""  # the stored form (to_wire(include_token=False))
    else:
        kassatoken = read_text(
            top.required("kassatoken"), "kassatoken", max_len=MAX_KASSATOKEN, required=True, secret=True
        )
    cms = read_text(top.required("cms"), "cms", max_len=MAX_CMS, required=True)

    send_raw = top.required("check_send_type")
    if not isinstance(send_raw, str) or send_raw.strip().lower() not in CHECK_SEND_TYPES:
        raise ReceiptError("check_send_type", f'expected "email", "phone" or "none", got {describe(send_raw)}')
    check_send_type = send_raw.strip().lower()

    name_zakaz = read_text(top.get("name_zakaz"), "name_zakaz", max_len=MAX_NAME_ZAKAZ, numbers_ok=True)
    vend_address = read_text(top.get("check_vend_address"), "check_vend_address", max_len=MAX_VEND_ADDRESS)
    vend_mesto = read_text(top.get("check_vend_mesto"), "check_vend_mesto", max_len=MAX_VEND_PLACE)
    vend_num = read_text(
        top.get("check_vend_num_avtovat"), "check_vend_num_avtovat", max_len=MAX_VEND_MACHINE_NUMBER, numbers_ok=True
    )

    itog = _parse_total(Obj(as_object(top.required("itog_arr"), "itog_arr"), "itog_arr"))
    korr = None
    korr_obj = None
    raw_korr = obj.get("korr_arr")
    if raw_korr is not None and raw_korr is not False and raw_korr not in ("", [], {}):
        korr_obj = Obj(as_object(raw_korr, "korr_arr"), "korr_arr")
        korr = _parse_correction(korr_obj, today, itog)
    correction = korr is not None and korr.type_korr is not None

    # VAT by date: a sale or purchase uses the rates valid today; a correction those valid on
    # the corrected settlement's date; a return any rate of the table (the original
    # settlement's date is not on the wire).
    vat_day: dt.date | None
    if today is None or SettlementSign(itog.priznak_rascheta).is_return:
        vat_day = None
    elif correction:
        assert korr is not None
        vat_day = korr.date_doc_korr
    else:
        vat_day = today

    raw_products = obj.get("products_arr")
    if correction and raw_products in (None, [], {}):
        # FFD 1.05 correction: no lines, the amounts by VAT rate in korr_arr.
        assert korr is not None
        if not korr.vat_amounts:
            names = ", ".join(KORR_VAT_FIELDS)
            raise ReceiptError(
                "korr_arr",
                f"a correction without products_arr needs its amounts by VAT rate: at least one of {names}",
            )
        payment = _parse_payment(_payment_source(top, korr_obj), check_send_type)
        _check_payments(payment, itog)
        products: tuple[Product, ...] = ()
    else:
        raw_products = top.required("products_arr")
        if (
            isinstance(raw_products, dict)
            and raw_products
            and all(isinstance(k, str) and len(k) <= 6 and DIGITS_RE.fullmatch(k) for k in raw_products)
        ):
            # PHP's json_encode turns an array with holes into an object {"0": ..., "1": ...}.
            raw_products = [raw_products[k] for k in sorted(raw_products, key=int)]
        if not isinstance(raw_products, list):
            raise ReceiptError("products_arr", f"expected an array of products, got {describe(raw_products)}")
        if not raw_products:
            raise ReceiptError("products_arr", "expected at least one product, got an empty array")
        if len(raw_products) > MAX_PRODUCTS:
            raise ReceiptError("products_arr", f"expected at most {MAX_PRODUCTS} products, got {len(raw_products)}")
        products = tuple(
            parse_product(raw, f"products_arr[{i}]", vat_day, correction) for i, raw in enumerate(raw_products)
        )

        if not correction:
            payment = _parse_payment(
                Obj(as_object(top.required("oplata_arr"), "oplata_arr"), "oplata_arr"), check_send_type
            )
        else:
            payment = _parse_payment(_payment_source(top, korr_obj), check_send_type)

        total = sum(p.summa for p in products)
        if itog.itog_cheka != total:
            parts = " + ".join(str(p.summa) for p in products[:10]) + (" + …" if len(products) > 10 else "")
            raise ReceiptError(
                "itog_arr.itog_cheka",
                f"expected {total} (= Σ products_arr[].summa: {parts}), got {itog.itog_cheka}",
            )
        _check_payments(payment, itog)
        if korr is not None and itog.itog_cheka == 0:
            raise ReceiptError("itog_arr.itog_cheka", "a correction settles an amount: expected more than 0, got 0")

    return Receipt(
        kassaid=kassaid,
        kassatoken=kassatoken,
        cms=cms,
        check_send_type=check_send_type,
        products_arr=products,
        oplata_arr=payment,
        itog_arr=itog,
        name_zakaz=name_zakaz,
        check_vend_address=vend_address,
        check_vend_mesto=vend_mesto,
        check_vend_num_avtovat=vend_num,
        korr_arr=korr,
    )


def _check_payments(payment: Payment, itog: Total) -> None:
    paid = payment.money_total
    if paid != itog.itog_cheka:
        parts = " + ".join(f"{name} {getattr(payment, name)}" for name in PAYMENT_FORMS)
        raise ReceiptError(
            "oplata_arr",
            f"expected the payments to add up to itog_cheka {itog.itog_cheka}, got {paid} (= {parts})",
        )


class _MergedObj(Obj):
    """``oplata_arr`` with the fields that ``korr_arr`` carries instead (their paths name
    ``korr_arr``)."""

    __slots__ = ("moved",)

    def __init__(self, data: Mapping[str, Any], path: str, moved: frozenset[str]) -> None:
        super().__init__(data, path)
        self.moved = moved

    def p(self, name: str) -> str:
        return f"korr_arr.{name}" if name in self.moved else join_path(self.path, name)


def _payment_source(top: Obj, korr: Obj | None) -> Obj:
    """``oplata_arr``, with ``rezhim_nalog`` and the payment split taken from ``korr_arr``
    where it carries them (the vendor's correction formats). A ``korr_arr`` that carries any
    ``money_*`` carries the whole split (a missing one is 0)."""
    raw = top.get("oplata_arr")
    moved: set[str] = set()
    if korr is not None:
        if korr.get("rezhim_nalog") is not None:
            moved.add("rezhim_nalog")
        if any(korr.get(name) is not None for name in PAYMENT_FORMS):
            moved.update(PAYMENT_FORMS)
    if not moved:
        return Obj(as_object(top.required("oplata_arr"), "oplata_arr"), "oplata_arr")
    data = dict(as_object(raw, "oplata_arr")) if raw is not None else {}
    assert korr is not None
    for name in moved:
        data[name] = korr.get(name)
    if "rezhim_nalog" not in moved and data.get("rezhim_nalog") is None:
        raise ReceiptError("korr_arr.rezhim_nalog", "required field is missing (or oplata_arr.rezhim_nalog)")
    return _MergedObj(data, "oplata_arr", frozenset(moved))


def _parse_total(o: Obj) -> Total:
    sign = read_enum(
        o.required("priznak_rascheta"),
        o.p("priznak_rascheta"),
        SETTLEMENT_SIGNS,
        "a settlement sign (tag 1054): 1 sale, 2 sale return, 3 purchase, 4 purchase return",
    )
    return Total(priznak_rascheta=sign, itog_cheka=read_money(o.required("itog_cheka"), o.p("itog_cheka")))



def _parse_correction(o: Obj, today: dt.date | None, itog: Total) -> Correction:
    """``korr_arr`` in the vendor's three forms: a correction (``type_korr``
    set, with or without lines) or the basis document of a return (no ``type_korr``)."""
    type_name, raw_type = pick(o, KORR_TYPE_NAMES)
    tip: int | None
    if raw_type is None or raw_type == "" or raw_type is False:
        tip = None
        if not SettlementSign(itog.priznak_rascheta).is_return:
            raise ReceiptError(
                o.p("type_korr"),
                "required on a correction: 0 or \"self\" (on the merchant's own initiative), 1 or \"ordered\" "
                "(by order of the tax office); a korr_arr without it only names the basis document of a return "
                f"(itog_arr.priznak_rascheta 2 or 4), got priznak_rascheta {itog.priznak_rascheta}",
            )
    elif isinstance(raw_type, str) and raw_type.strip().lower() in ("self", "ordered"):
        tip = 0 if raw_type.strip().lower() == "self" else 1
    else:
        tip = read_enum(
            raw_type,
            o.p(type_name),
            CORRECTION_TYPES,
            'a correction type (tag 1173): 0 or "self" (on the merchant\'s own initiative), 1 or "ordered" '
            "(by order of the tax office)",
        )

    date_name, raw_date = pick(o, KORR_DATE_NAMES)
    day: dt.date | None = None
    if raw_date is None or raw_date == "" or raw_date is False:
        if tip is not None:
            raise ReceiptError(
                o.p(date_name),
                "required on a correction: the date of the corrected settlement (tag 1178), "
                'unix seconds or "YYYY-MM-DD"',
            )
    else:
        # kassagate's own alias data_korr takes a date; the vendor's name takes unix seconds too.
        day = read_date(raw_date, o.p(date_name)) if date_name == "data_korr" else read_unix_date(
            raw_date, o.p(date_name)
        )
        if today is not None and day > today:
            raise ReceiptError(
                o.p(date_name), f"expected the date of a past settlement (at most {today.isoformat()}), got {day}"
            )

    number_name, raw_number = pick(o, KORR_NUMBER_NAMES)
    number = read_text(raw_number, o.p(number_name), max_len=MAX_NOMER_PREDPISANIYA, numbers_ok=True)
    if tip == 1 and not number.strip():
        raise ReceiptError(o.p(number_name), f"required when {type_name} is 1 (correction by order)")
    name_doc = read_text(o.get("name_doc_korr"), o.p("name_doc_korr"), max_len=MAX_NAME_DOC_KORR, numbers_ok=True)
    if tip is None:
        return Correction(type_korr=None, date_doc_korr=day, numb_doc_korr=number, name_doc_korr=name_doc)

    fio = read_text(o.get("fio_upolnomoch"), o.p("fio_upolnomoch"), max_len=MAX_KASSIR_FIO)
    inn = read_inn(o.get("inn_upolnomoch"), o.p("inn_upolnomoch"))
    vats: list[tuple[str, int]] = []
    for name, code in KORR_VAT_FIELDS.items():
        raw = o.get(name)
        if raw is None:
            continue
        amount = read_money(raw, o.p(name))
        if amount > itog.itog_cheka:
            raise ReceiptError(o.p(name), f"expected at most itog_arr.itog_cheka {itog.itog_cheka}, got {amount}")
        rate = VAT_RATES[code]
        if amount and today is not None and day is not None and not rate.valid_on(day):
            valid = ", ".join(n for n, c in KORR_VAT_FIELDS.items() if VAT_RATES[c].valid_on(day))
            raise ReceiptError(
                o.p(name),
                f"VAT rate {rate.name} is {rate.describe_validity()}, not on the corrected settlement's date {day}; "
                f"valid: {valid}",
            )
        vats.append((name, amount))
    return Correction(
        type_korr=tip,
        date_doc_korr=day,
        numb_doc_korr=number,
        name_doc_korr=name_doc,
        fio_upolnomoch=fio,
        inn_upolnomoch=inn,
        vat_amounts=tuple(vats),
    )



def _parse_payment(o: Obj, check_send_type: str) -> Payment:
    tax = o.required("rezhim_nalog")
    tax_code = read_int(tax, o.p("rezhim_nalog"), "a tax system (tag 1055, an integer)")
    if tax_code == 3:
        raise ReceiptError(
            o.p("rezhim_nalog"),
            "tax system 3 (imputed income, ENVD) no longer exists; expected 0 general, 1 simplified income, "
            "2 simplified income minus expense, 4 agricultural or 5 patent",
        )
    if tax_code not in TAX_SYSTEM_CODES:
        names = ", ".join(f"{k} {v}" for k, v in TAX_SYSTEM_NAMES.items())
        raise ReceiptError(o.p("rezhim_nalog"), f"expected a tax system (tag 1055): {names}; got {tax_code}")

    money = {name: read_money(o.get(name) if o.get(name) is not None else 0, o.p(name)) for name in PAYMENT_FORMS}

    kassir_inn = read_inn(o.get("kassir_inn"), o.p("kassir_inn"))
    kassir_fio = read_text(o.get("kassir_fio"), o.p("kassir_fio"), max_len=MAX_KASSIR_FIO)

    email_raw = o.get("client_email")
    phone_raw = o.get("client_phone")
    if check_send_type == "email":
        if email_raw is None or (isinstance(email_raw, str) and not email_raw.strip()):
            raise ReceiptError(o.p("client_email"), 'required when check_send_type is "email"')
        client_email = read_email(email_raw, o.p("client_email"), required=True)
    else:
        client_email = read_text(email_raw, o.p("client_email"), max_len=MAX_EMAIL, secret=True)
    if check_send_type == "phone":
        if phone_raw is None or (isinstance(phone_raw, str) and not phone_raw.strip()):
            raise ReceiptError(o.p("client_phone"), 'required when check_send_type is "phone"')
        client_phone = read_phone(phone_raw, o.p("client_phone"), required=True, secret=True)
    else:
        client_phone = read_text(phone_raw, o.p("client_phone"), max_len=19, numbers_ok=True, secret=True)

    inn_pokupatel = read_inn(o.get("inn_pokupatel"), o.p("inn_pokupatel"))
    name_pokupatel = read_text(o.get("name_pokupatel"), o.p("name_pokupatel"), max_len=MAX_NAME_POKUPATEL, secret=True)

    return Payment(
        rezhim_nalog=tax_code,
        kassir_inn=kassir_inn,
        kassir_fio=kassir_fio,
        client_email=client_email,
        client_phone=client_phone,
        inn_pokupatel=inn_pokupatel,
        name_pokupatel=name_pokupatel,
        **money,
    )
