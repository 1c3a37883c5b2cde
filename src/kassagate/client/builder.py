"""Build a receipt from lines without doing the arithmetic by hand.

:func:`make_receipt` fills in the computed fields of the receipt (``summa``,
``price_piece``, ``itog_cheka``, the payment; see ``docs/receipt.md``) so that the result
passes the checks; the client then adds its ``kassaid``/``kassatoken``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from kassagate.core.tables import PAYMENT_FORMS

__all__ = ["Line", "make_receipt"]


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Line:
    """One product line: ``price`` is the unit price before discount in kopecks,
    ``discount`` the discount on the whole line in kopecks, ``vat`` the VAT code (tag 1199,
    6 = without VAT), ``method`` the payment method (1214, 4 = full payment), ``subject``
    the payment subject (1212, 1 = goods, 4 = service)."""

    name: str
    price: int
    quantity: Decimal | int | str = 1
    vat: int = 6
    discount: int = 0
    method: int = 4
    subject: int = 1
    measure: int | None = None

    def to_wire(self) -> dict[str, Any]:
        qty = Decimal(str(self.quantity))
        summa = _round(Decimal(self.price) * qty) - self.discount
        product: dict[str, Any] = {
            "name_tovar": self.name,
            "price_piece_bez_skidki": self.price,
            "kolvo": int(qty) if qty == qty.to_integral_value() else format(qty.normalize(), "f"),
            "skidka": self.discount,
            "price_piece": _round(Decimal(summa) / qty) if qty > 0 else self.price,
            "summa": summa,
            "stavka_nds": self.vat,
            "priznak_sposoba_rascheta": self.method,
            "priznak_predmeta_rascheta": self.subject,
            "priznak_agenta": "none",
        }
        if self.measure is not None:
            product["mera_kolva_predmeta_rasheta"] = str(self.measure)
        return product


def make_receipt(
    lines: Sequence[Line],
    *,
    tax_system: int,
    email: str | None = None,
    phone: str | None = None,
    paid_by: str = "money_electro",
    settlement_sign: int = 1,
    cms: str = "kassagate-client",
    order: str = "",
    cashier: str = "",
    cashier_inn: str = "",
) -> dict[str, Any]:
    """A receipt (wire form, without ``kassaid``/``kassatoken``) of ``lines``, paid in full
    with one payment form (``paid_by``: ``money_electro``, ``money_nal``, ...), sent to
    ``email`` or ``phone`` when given. ``settlement_sign``: 1 sale, 2 sale return, 3
    purchase, 4 purchase return. Check it with the client before sending (it does)."""
    if paid_by not in PAYMENT_FORMS:
        raise ValueError(f"paid_by must be one of {', '.join(PAYMENT_FORMS)}")
    products = [line.to_wire() for line in lines]
    total = sum(p["summa"] for p in products)
    send_type = "email" if email else "phone" if phone else "none"
    oplata: dict[str, Any] = {"rezhim_nalog": tax_system}
    for form in PAYMENT_FORMS:
        oplata[form] = total if form == paid_by else 0
    oplata.update(kassir_inn=cashier_inn, kassir_fio=cashier, client_email=email or "", client_phone=phone or "")
    return {
        "cms": cms,
        "check_send_type": send_type,
        "name_zakaz": order,
        "products_arr": products,
        "oplata_arr": oplata,
        "itog_arr": {"priznak_rascheta": settlement_sign, "itog_cheka": total},
    }
