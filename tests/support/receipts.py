"""Valid receipts (wire form) for tests of every layer."""

from __future__ import annotations

from typing import Any

PAYMENT_FORMS = ("money_nal", "money_electro", "money_predoplata", "money_postoplata", "money_vstrecha")


def product(
    name: str = "Tea", price: int = 10000, qty: int | str = 2, discount: int = 0, vat: int = 11
) -> dict[str, Any]:
    from decimal import ROUND_HALF_UP, Decimal

    summa = int((Decimal(price) * Decimal(str(qty))).quantize(Decimal(1), rounding=ROUND_HALF_UP)) - discount
    return {
        "name_tovar": name,
        "price_piece_bez_skidki": price,
        "kolvo": qty,
        "skidka": discount,
        "price_piece": price if discount == 0 else int(Decimal(summa) / Decimal(str(qty))),
        "summa": summa,
        "stavka_nds": vat,
        "priznak_sposoba_rascheta": 4,
        "priznak_predmeta_rascheta": 1,
        "priznak_agenta": "none",
    }


def receipt(
    kassaid: str = "1001",
    token: str = "token-1001",
    *,
    sign: int = 1,
    pay: str = "money_electro",
    products: list[dict[str, Any]] | None = None,
    vending: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A receipt that passes every rule of ``docs/receipt.md``, paid in full by the form ``pay``
    (or split over several when ``pay`` is ``"mixed"``)."""
    items = products or [product()]
    total = sum(p["summa"] for p in items)
    money = dict.fromkeys(PAYMENT_FORMS, 0)
    if pay == "mixed":
        share = total // len(PAYMENT_FORMS)
        for form in PAYMENT_FORMS:
            money[form] = share
        money["money_nal"] += total - share * len(PAYMENT_FORMS)
    else:
        money[pay] = total
    r: dict[str, Any] = {
        "kassaid": kassaid,
        "kassatoken": token,
        "cms": "kassagate-tests",
        "check_send_type": "email",
        "name_zakaz": "order-1",
        "products_arr": items,
        "oplata_arr": {"rezhim_nalog": 1, "kassir_fio": "Ivanova A.", "client_email": "buyer@example.com", **money},
        "itog_arr": {"priznak_rascheta": sign, "itog_cheka": total},
    }
    if vending:
        r.update(vending)
    r.update(extra)
    return r


VENDING = {"check_vend_address": "Moscow, Tverskaya 1", "check_vend_mesto": "Hall 2", "check_vend_num_avtovat": "A-17"}
