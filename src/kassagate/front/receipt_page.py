"""The public receipt page (``GET /check?nuid=…&qnuid=…``): the receipt as a buyer sees it,
rendered on the server from a Jinja2 template shipped with the package
(``front/templates/check.html``).

It shows the lines, VAT, totals, payments and fiscal data of a request, the QR picture,
and "debug: not a fiscal document" for debug requests. Nothing secret or personal is on
it: no kassa token or id, no register merchant ID, no buyer's e-mail, phone, name or INN.
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal
from typing import Any

import jinja2

from kassagate.core.receipt import KORR_VAT_FIELDS, MSK
from kassagate.core.states import RequestStatus
from kassagate.core.tables import FNS_SITE, VAT_RATES, SettlementSign, vat_amount
from kassagate.front.status import CORRECTION_NAME, RECEIPT_NAME, decode_receipt, is_correction, request_urls

SIGN_NAMES = {
    SettlementSign.SALE: "Приход",
    SettlementSign.SALE_RETURN: "Возврат прихода",
    SettlementSign.PURCHASE: "Расход",
    SettlementSign.PURCHASE_RETURN: "Возврат расхода",
}
TAX_SYSTEM_NAMES = {0: "ОСН", 1: "УСН доход", 2: "УСН доход − расход", 4: "ЕСХН", 5: "ПСН"}
PAYMENT_NAMES = {
    "money_nal": "Наличными",
    "money_electro": "Безналичными",
    "money_predoplata": "Предоплата (зачёт аванса)",
    "money_postoplata": "Постоплата (кредит)",
    "money_vstrecha": "Встречное предоставление",
}
STATE_NOTES = {
    RequestStatus.PENDING: "Чек принят и ждёт фискализации.",
    RequestStatus.FAILED: "Фискализация не удалась.",
}
#: The statuses of a request with fiscal data (real, or the fake data of a debug request).
_WITH_FISCAL_DATA = (RequestStatus.FISCALIZED, RequestStatus.DEBUG)


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("kassagate.front", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def rub(kopecks: Any) -> str:
    """Kopecks as roubles with two decimals and thin-space thousands: ``1234567`` -> ``12 345.67``."""
    try:
        value = int(kopecks)
    except (TypeError, ValueError):
        return ""
    sign = "−" if value < 0 else ""
    whole, part = divmod(abs(value), 100)
    return f"{sign}{whole:,}".replace(",", "\u202f") + f".{part:02d}"


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(Decimal(str(value)))
    except (ArithmeticError, ValueError):
        return default


def page_context(row: dict[str, Any], public_url: str) -> dict[str, Any]:
    """What the template shows, from a ``requests`` row."""
    receipt = decode_receipt(row)
    oplata = receipt.get("oplata_arr") if isinstance(receipt.get("oplata_arr"), dict) else {}
    itog = receipt.get("itog_arr") if isinstance(receipt.get("itog_arr"), dict) else {}
    korr = receipt.get("korr_arr") if isinstance(receipt.get("korr_arr"), dict) else {}
    lines = []
    vat_totals: dict[str, int] = {}
    for p in receipt.get("products_arr") or []:
        rate = VAT_RATES.get(_int(p.get("stavka_nds")))
        summa = _int(p.get("summa"))
        vat_name = "" if rate is None else "без НДС" if rate.percent_x100 is None else rate.name
        if rate is not None and rate.percent_x100 is not None:
            vat_totals[vat_name] = vat_totals.get(vat_name, 0) + vat_amount(summa, rate)
        lines.append(
            {
                "name": str(p.get("name_tovar", "")),
                "qty": str(p.get("kolvo", "")),
                "price": rub(p.get("price_piece")),
                "discount": rub(_int(p.get("skidka"))) if _int(p.get("skidka")) else "",
                "sum": rub(summa),
                "vat": vat_name,
            }
        )
    for name, code in KORR_VAT_FIELDS.items():  # a correction by amounts (no lines): its VAT amounts
        if not lines and VAT_RATES[code].percent_x100 and _int(korr.get(name)):
            vat_totals[VAT_RATES[code].name] = _int(korr.get(name))
    sign = _int(itog.get("priznak_rascheta"), 1)
    status = int(row["status"])
    when = row.get("fiscal_dt") if status in _WITH_FISCAL_DATA else None
    img_url, _page = request_urls(public_url, row["nuid"], row["qnuid"])
    return {
        "title": CORRECTION_NAME if is_correction(receipt) else RECEIPT_NAME,
        "sign": SIGN_NAMES.get(SettlementSign(sign), "") if sign in (1, 2, 3, 4) else "",
        "debug": status == RequestStatus.DEBUG,
        "fiscalized": status in _WITH_FISCAL_DATA,
        "note": STATE_NOTES.get(status, ""),
        "vending": [
            v for v in (receipt.get("check_vend_address"), receipt.get("check_vend_mesto"),
                        receipt.get("check_vend_num_avtovat")) if v
        ],
        "cashier": str(oplata.get("kassir_fio") or ""),
        "tax_system": TAX_SYSTEM_NAMES.get(_int(oplata.get("rezhim_nalog"), -1), ""),
        "lines": lines,
        "vat_totals": [(name, rub(amount)) for name, amount in vat_totals.items()],
        "total": rub(itog.get("itog_cheka")),
        "payments": [(PAYMENT_NAMES[n], rub(oplata.get(n))) for n in PAYMENT_NAMES if _int(oplata.get(n))],
        "when": "" if when is None else dt.datetime.fromtimestamp(when / 1_000_000, MSK).strftime("%d.%m.%Y %H:%M"),
        "fn": row.get("fn_serial") or "",
        "fd": "" if row.get("fd_number") is None else str(row["fd_number"]),
        "fp": row.get("fiscal_sign") or "",
        "kkt_rn": row.get("kkt_reg_number") or "",
        "shift": "" if row.get("shift_number") is None else str(row["shift_number"]),
        "number_in_shift": "" if row.get("number_in_shift") is None else str(row["number_in_shift"]),
        "site_fns": FNS_SITE,
        "qr_url": img_url if row.get("qr") else "",
    }


def render_receipt_page(row: dict[str, Any], public_url: str) -> str:
    return _environment().get_template("check.html").render(page_context(row, public_url))
