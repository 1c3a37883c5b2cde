"""Where a receipt meets a register: the front receipt (wire form, already checked at
intake) turned into a Cashbox document, and the register's answer turned back into the
request's fiscal data.

Pure: no I/O. The tables it relies on live in ``kassagate.core.tables``; the extension
fields of the Cashbox document are documented in ``docs/cashbox.md`` and
``docs/processing.md``.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from kassagate.core.receipt import KORR_DATE_NAMES, KORR_NUMBER_NAMES, KORR_TYPE_NAMES, KORR_VAT_FIELDS
from kassagate.core.tables import VAT_RATES, SettlementSign, vat_amount

#: Receipt payment form -> the Cashbox ``payments`` field that carries it.
#: Counter-provision (1217) has no field of its own in the protocol: it travels as
#: ``bonusesAmount``, the register's "bonuses" kind being a counter-provision in FFD terms.
PAYMENT_FIELDS: dict[str, str] = {
    "money_nal": "cashAmount",
    "money_electro": "cashlessAmount",
    "money_predoplata": "prepaymentAmount",
    "money_postoplata": "creditAmount",
    "money_vstrecha": "bonusesAmount",
}

#: 1054 -> the endpoint that fiscalizes it. Purchases (3, 4) use the ``settlementSign``
#: extension of ``/sale`` and ``/refund``.
ENDPOINTS: dict[SettlementSign, str] = {
    SettlementSign.SALE: "sale",
    SettlementSign.SALE_RETURN: "refund",
    SettlementSign.PURCHASE: "sale",
    SettlementSign.PURCHASE_RETURN: "refund",
}

DOC_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True, slots=True)
class CashboxDocument:
    endpoint: str
    body: dict[str, Any]

    @property
    def identity(self) -> dict[str, Any]:
        """What ``/last_document`` needs to find this document after a timeout."""
        return {
            "documentExtID": self.body["documentExtID"],
            "docTime": self.body["docTime"],
            "docNumber": self.body["docNumber"],
            "amount": self.body["amount"],
        }


def _int(value: Any) -> int:
    """Money and codes are checked at intake; stored receipts may carry them as numeric strings."""
    if isinstance(value, bool):
        raise TypeError("boolean where a number was expected")
    if isinstance(value, int):
        return value
    return int(Decimal(str(value)))


def _qty_x1000(value: Any) -> int:
    q = Decimal(str(value)) * 1000
    return int(q.to_integral_value(rounding=ROUND_HALF_UP))


def format_doc_time(accepted_at_us: int) -> str:
    """``docTime`` of a request: its acceptance time, UTC, to the second. The same request
    always gets the same text, so a resend is recognised by the register."""
    return _doc_time_of_second(accepted_at_us // 1_000_000)


@functools.lru_cache(maxsize=1024)
def _doc_time_of_second(seconds: int) -> str:
    # Requests accepted within the same second share the text: formatted once.
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).strftime(DOC_TIME_FORMAT)


def _item(product: dict[str, Any], index: int) -> dict[str, Any]:
    vat = VAT_RATES[_int(product["stavka_nds"])]
    summa = _int(product["summa"])
    # The line's discount in kopecks whichever way skidka was given (per unit or for the
    # line): the price before discount times the quantity, less what is paid. The register
    # fiscalizes itemAmount - discount = summa either way.
    discount = 0
    if _int(product.get("skidka", 0) or 0):
        before = _int(product.get("price_piece_bez_skidki", product["price_piece"]))
        gross = (Decimal(before) * Decimal(str(product["kolvo"]))).quantize(Decimal(1), ROUND_HALF_UP)
        discount = max(0, int(gross) - summa)
    # taxCode is only the register's tax group label; vatCode (extension) is the exact VAT
    # row (tag 1199), which the percent alone does not give (22 % and 22/122 are both 2200).
    tax: dict[str, Any] = {"taxCode": vat.code, "taxName": vat.name, "calcType": 1, "vatCode": vat.code}
    tax["taxPrc"] = 0 if vat.percent_x100 is None else vat.percent_x100
    item: dict[str, Any] = {
        "itemId": str(index + 1),
        "itemName": str(product["name_tovar"]),
        "itemQty": _qty_x1000(product["kolvo"]),
        # itemAmount - discount must equal the line total the receipt states (tag 1043);
        # the receipt allows round(price x qty) to differ from it by one kopeck.
        "itemAmount": summa + discount,
        "discount": discount,
        "itemTaxes": [tax] if vat.percent_x100 is not None else [],
        "paymentMethod": _int(product["priznak_sposoba_rascheta"]),
        "paymentSubject": _int(product["priznak_predmeta_rascheta"]),
    }
    agent = product.get("priznak_agenta", "none")
    if agent not in (None, "", "none"):
        item["agentSign"] = _int(agent)
    unit = product.get("mera_kolva_predmeta_rasheta")
    if unit not in (None, ""):
        item["measureUnit"] = _int(unit)
    return item


def receipt_to_document(receipt: dict[str, Any], *, nuid: str, accepted_at_us: int) -> CashboxDocument:
    """Map a checked receipt (wire form) to the Cashbox document that fiscalizes it."""
    total = receipt["itog_arr"]
    pay = receipt["oplata_arr"]
    sign = SettlementSign(_int(total["priznak_rascheta"]))
    payments = {field: _int(pay.get(key, 0) or 0) for key, field in PAYMENT_FIELDS.items()}
    body: dict[str, Any] = {
        "documentExtID": nuid,
        "docTime": format_doc_time(accepted_at_us),
        "docNumber": nuid,
        "amount": _int(total["itog_cheka"]),
        "currency": "RUB",
        "settlementSign": int(sign),
        "taxSystem": _int(pay["rezhim_nalog"]),
        "items": [_item(p, i) for i, p in enumerate(receipt["products_arr"])],
        "payments": payments,
        "skipReceiptPrint": True,
    }
    if payments["prepaymentAmount"] > 0:
        body["prepaymentExternal"] = True
    optional = {
        "employeeName": pay.get("kassir_fio"),
        "employeeInn": pay.get("kassir_inn"),
        "clientEmail": pay.get("client_email"),
        "clientPhone": pay.get("client_phone"),
        "clientName": pay.get("name_pokupatel"),
        "clientInn": pay.get("inn_pokupatel"),
        "wsName": receipt.get("cms"),
        "vendAddress": receipt.get("check_vend_address"),
        "vendPlace": receipt.get("check_vend_mesto"),
        "vendMachineNumber": receipt.get("check_vend_num_avtovat"),
    }
    send_type = receipt.get("check_send_type", "none")
    if send_type != "email":
        optional["clientEmail"] = None
    if send_type != "phone":
        optional["clientPhone"] = None
    body.update({k: str(v) for k, v in optional.items() if v not in (None, "")})
    korr = receipt.get("korr_arr")
    if isinstance(korr, dict) and _first(korr, KORR_TYPE_NAMES) is not None:
        return CashboxDocument(endpoint="correction", body=_correction(body, korr, receipt.get("products_arr") or []))
    # No korr_arr, or the basis document of a return (kept with the request, not sent).
    return CashboxDocument(endpoint=ENDPOINTS[sign], body=body)


def _first(korr: dict[str, Any], names: tuple[str, ...]) -> Any:
    """The value of the first of ``names`` (a ``korr_arr`` field and its aliases) that is
    set (a stored receipt may carry the aliases)."""
    for name in names:
        value = korr.get(name)
        if value not in (None, ""):
            return value
    return None


def _correction(body: dict[str, Any], korr: dict[str, Any], products: list[dict[str, Any]]) -> dict[str, Any]:
    """A correction receipt (``korr_arr`` with ``type_korr``) becomes the register's
    ``/correction`` document for the one day it corrects, with the amounts by payment kind
    and the VAT by rate: computed from the lines (FFD 1.2 form), or as sent in ``korr_arr``
    (FFD 1.05 form: ``money_nds_<rate>`` are VAT sums; ``money_nds_0`` and ``money_bez_nds``
    are amounts that carry no VAT, so they add no entry)."""
    vat: dict[int, int] = {}
    if products:
        for p in products:
            rate = VAT_RATES[_int(p["stavka_nds"])]
            if rate.percent_x100 is not None:
                vat[rate.percent_x100] = vat.get(rate.percent_x100, 0) + vat_amount(_int(p["summa"]), rate)
    else:
        for name, code in KORR_VAT_FIELDS.items():
            rate = VAT_RATES[code]
            amount = _int(korr.get(name) or 0)
            if rate.percent_x100 and amount:
                vat[rate.percent_x100] = vat.get(rate.percent_x100, 0) + amount
    day = str(_first(korr, KORR_DATE_NAMES))
    out = dict(body)
    out.update(body["payments"])
    out.update(
        date_start=day,
        date_stop=day,
        correctionType=_int(_first(korr, KORR_TYPE_NAMES)),
        vatAmounts=[{"vatPercent": pct, "vatSum": s} for pct, s in sorted(vat.items())],
    )
    number = _first(korr, KORR_NUMBER_NAMES)
    if number is not None:
        out["orderNumber"] = str(number)
    # Who made the correction (FFD 1.05 form) signs it in place of the cashier.
    if korr.get("fio_upolnomoch"):
        out["employeeName"] = str(korr["fio_upolnomoch"])
    if korr.get("inn_upolnomoch"):
        out["employeeInn"] = str(korr["inn_upolnomoch"])
    return out
