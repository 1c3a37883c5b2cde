"""The rules of one receipt line (``products_arr[i]``): its fields, its VAT code against the
settlement date, its agent fields, and its arithmetic (price × quantity − discount = summa).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_CEILING, Decimal
from typing import Any

from kassagate.core.limits import MAX_MONEY
from kassagate.core.receipt.coerce import (
    Obj,
    describe,
    fmt_qty,
    read_enum,
    read_inn,
    read_kolvo,
    read_money,
    read_phone,
    read_text,
    round_half_up,
)
from kassagate.core.receipt.tags import (
    AGENT_FIELDS,
    AGENT_REQUIRED_FIELDS,
    AGENT_SIGN_NAMES,
    AGENT_SUPPLIER_FIELDS,
    NOT_AGENT_NUMBER,
    NOT_AGENT_TEXTS,
    PAYMENT_METHOD_CODES,
    VAT_CODES,
)
from kassagate.core.receipt.types import Product, ReceiptError
from kassagate.core.tables import AGENT_SIGNS, MAX_ITEM_NAME, MEASURE_UNITS, PAYMENT_SUBJECTS, VAT_RATES


def _vat_hint(day: dt.date) -> str:
    valid = [f"{r.code} ({r.name})" for r in VAT_RATES.values() if r.valid_on(day)]
    return ", ".join(valid)


def parse_product(raw: Any, path: str, vat_day: dt.date | None, correction: bool) -> Product:
    if not isinstance(raw, dict):
        raise ReceiptError(path, f"expected a product object, got {describe(raw)}")
    o = Obj(raw, path)

    name = read_text(o.required("name_tovar"), o.p("name_tovar"), max_len=MAX_ITEM_NAME, required=True, numbers_ok=True)
    raw_base = o.get("price_piece_bez_skidki")
    base = None if raw_base is None else read_money(raw_base, o.p("price_piece_bez_skidki"))
    qty = read_kolvo(o.required("kolvo"), o.p("kolvo"))
    skidka = read_money(o.get("skidka") if o.get("skidka") is not None else 0, o.p("skidka"))
    price = read_money(o.required("price_piece"), o.p("price_piece"))
    if base is None:
        base = price  # optional: no discount before price_piece
    summa = read_money(o.required("summa"), o.p("summa"))

    vat = read_enum(
        o.required("stavka_nds"),
        o.p("stavka_nds"),
        VAT_CODES,
        f"a VAT code (tag 1199) from 1 to {max(VAT_RATES)}",
    )
    if vat_day is not None and not VAT_RATES[vat].valid_on(vat_day):
        rate = VAT_RATES[vat]
        when = f"the corrected settlement's date {vat_day}" if correction else f"{vat_day}"
        raise ReceiptError(
            o.p("stavka_nds"),
            f"VAT code {vat} ({rate.name}) is {rate.describe_validity()}, not on {when}; "
            f"valid codes: {_vat_hint(vat_day)}",
        )
    method = read_enum(
        o.required("priznak_sposoba_rascheta"),
        o.p("priznak_sposoba_rascheta"),
        PAYMENT_METHOD_CODES,
        "a payment method (tag 1214) from 1 to 7",
    )
    subject = read_enum(
        o.required("priznak_predmeta_rascheta"),
        o.p("priznak_predmeta_rascheta"),
        PAYMENT_SUBJECTS,
        "a payment subject (tag 1212) from 1 to 33",
    )

    raw_agent = o.get("priznak_agenta")
    agent: int | None
    if (
        raw_agent is None
        or (isinstance(raw_agent, str) and raw_agent.strip().lower() in NOT_AGENT_TEXTS)
        or (raw_agent.__class__ in (int, float) and raw_agent == NOT_AGENT_NUMBER)
    ):
        agent = None
    else:
        agent = read_enum(raw_agent, o.p("priznak_agenta"), AGENT_SIGNS, 'an agent sign (tag 1222): "none" or 0 to 6')
    # Not an agent's line: the agent and supplier strings are ignored whatever they hold
    # (clients send them empty, or false for settings never saved) and not kept.
    agent_values: dict[str, str] = {}
    if agent is not None:
        for fname, (_tag, kind, max_len) in AGENT_FIELDS.items():
            value = o.get(fname)
            if kind == "phone":
                agent_values[fname] = read_phone(value, o.p(fname))
            elif kind == "inn":
                agent_values[fname] = read_inn(value, o.p(fname))
            else:
                agent_values[fname] = read_text(value, o.p(fname), max_len=max_len)
        for fname in (*AGENT_REQUIRED_FIELDS[agent], *AGENT_SUPPLIER_FIELDS):
            if not agent_values[fname].strip():
                tag = AGENT_FIELDS[fname][0]
                raise ReceiptError(
                    o.p(fname),
                    f"required (tag {tag}) when priznak_agenta is {agent} ({AGENT_SIGN_NAMES[agent]})",
                )

    measure: int | None = None
    if o.get("mera_kolva_predmeta_rasheta") is not None:
        measure = read_enum(
            o.get("mera_kolva_predmeta_rasheta"),
            o.p("mera_kolva_predmeta_rasheta"),
            MEASURE_UNITS,
            "a measure of quantity (tag 2108): 0 pieces, 10-12 mass, 20-22 length, 30-32 area, 40-42 volume, "
            "50-51 energy, 70-73 time, 80-83 data, 255 other",
        )

    # Arithmetic: summa = round(price before discount × quantity) − discount, within a kopeck;
    # price_piece × quantity within ⌈quantity⌉ kopecks of summa.
    gross = round_half_up(Decimal(base) * qty)
    if skidka:
        _check_discounted_summa(o, base, qty, skidka, summa, gross)
    elif abs(summa - gross) > 1:
        raise ReceiptError(
            o.p("summa"),
            f"expected {gross} (= round(price_piece_bez_skidki {base} × kolvo {fmt_qty(qty)}) − skidka 0), "
            f"got {summa}",
        )
    # The line's amount before its discount, as the register receives it (itemAmount).
    before = max(gross, summa) if skidka else summa
    if before > MAX_MONEY:
        raise ReceiptError(
            o.p("skidka"),
            f"expected the line's amount before its discount to be at most {MAX_MONEY} kopecks, got {before} "
            f"(= round(price_piece_bez_skidki {base} × kolvo {fmt_qty(qty)}): summa {summa} + discount "
            f"{before - summa})",
        )
    tolerance = int(qty.to_integral_value(rounding=ROUND_CEILING))
    line = Decimal(price) * qty
    if abs(line - summa) > tolerance:
        raise ReceiptError(
            o.p("price_piece"),
            f"expected price_piece × kolvo {fmt_qty(qty)} within {tolerance} kopeck{'' if tolerance == 1 else 's'} "
            f"of summa {summa} "
            f"(price_piece ≈ {round_half_up(Decimal(summa) / qty)}), got {price} "
            f"(× kolvo = {fmt_qty(line.normalize())})",
        )

    return Product(
        name_tovar=name,
        price_piece_bez_skidki=base,
        kolvo=qty,
        skidka=skidka,
        price_piece=price,
        summa=summa,
        stavka_nds=vat,
        priznak_sposoba_rascheta=method,
        priznak_predmeta_rascheta=subject,
        priznak_agenta=agent,
        mera_kolva_predmeta_rasheta=measure,
        **agent_values,
    )


def _check_discounted_summa(o: Obj, base: int, qty: Decimal, skidka: int, summa: int, gross: int) -> None:
    """``summa`` of a discounted line: ``skidka`` is read for the whole line (the protocol's
    documentation) or per unit (the vendor's shop plugin); ``summa`` must match either
    reading within 1 kopeck."""
    per_line = gross - skidka if skidka <= gross else None
    per_unit = round_half_up(Decimal(base - skidka) * qty) if skidka <= base else None
    q = fmt_qty(qty)
    if per_line is None and per_unit is None:
        if gross >= base:
            bound = f"{gross} (= round(price_piece_bez_skidki {base} × kolvo {q}))"
        else:
            bound = f"{base} (= price_piece_bez_skidki, a discount per unit)"
        raise ReceiptError(o.p("skidka"), f"expected at most {bound}, got {skidka}")
    if (per_line is not None and abs(summa - per_line) <= 1) or (per_unit is not None and abs(summa - per_unit) <= 1):
        return
    readings = []
    if per_line is not None:
        readings.append(
            f"{per_line} (discount per line: round(price_piece_bez_skidki {base} × kolvo {q}) − skidka {skidka})"
        )
    else:
        readings.append(f"nothing with the discount per line (skidka {skidka} is over round({base} × {q}) = {gross})")
    if per_unit is not None:
        readings.append(
            f"{per_unit} (discount per unit: round((price_piece_bez_skidki {base} − skidka {skidka}) × kolvo {q}))"
        )
    else:
        readings.append(f"nothing with the discount per unit (skidka {skidka} is over price_piece_bez_skidki {base})")
    raise ReceiptError(o.p("summa"), f"expected {readings[0]} or {readings[1]}, got {summa}")
