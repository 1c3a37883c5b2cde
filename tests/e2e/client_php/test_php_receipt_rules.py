"""The PHP client's local receipt check agrees with the server's rules.

Receipts drawn by ``strategies.receipts_wire`` (valid, in the lenient encodings real
clients use: optional fields left out, agent 40, discounts per unit, corrections and
returns naming their basis document), and variants of each with one rule broken or one
lenient form put in, go through the PHP library's ``Receipt::fromArray``
(``clients/php/tests/check_receipts.php``) and through
``kassagate.core.receipt.parse_receipt``: both accept the same receipts with the same
sums, and refuse the broken ones at the same field.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings

from kassagate.core.receipt import ReceiptError, parse_receipt
from kassagate.core.tables import PAYMENT_FORMS
from support.profiles import examples
from support.strategies import receipts_wire

CHECK_SCRIPT = Path(__file__).resolve().parents[3] / "clients" / "php" / "tests" / "check_receipts.php"
TODAY = dt.date(2026, 6, 1)

Mutation = Callable[[dict[str, Any]], None]


def _first(r: dict[str, Any]) -> dict[str, Any]:
    return r["products_arr"][0]


def _add(obj: dict[str, Any], key: str, delta: int) -> None:
    obj[key] = int(float(obj[key])) + delta


def _not_an_agent(r: dict[str, Any]) -> None:
    line = _first(r)
    line.update(priznak_agenta=40.0, name_postavshika=False, phone_postavshika=123, inn_oper_perevoda="x")


def _paying_agent(r: dict[str, Any]) -> None:
    line = _first(r)
    line.update(priznak_agenta="2", phone_oper_priem_plat="")
    line.setdefault("name_postavshika", "")


def _no_price_before_discount(r: dict[str, Any]) -> None:
    line = _first(r)
    line.pop("price_piece_bez_skidki", None)
    line.pop("skidka", None)


def _over_the_money_cap(r: dict[str, Any]) -> None:
    # A discount per unit that leaves 1 kopeck a unit: the line before its discount is
    # 10^16 kopecks, over the cap, though summa is small.
    _first(r).update(price_piece_bez_skidki=10**13, kolvo=1000, skidka=10**13 - 1, price_piece=1, summa=1000)


def _ffd105_correction(r: dict[str, Any]) -> None:
    r["products_arr"] = []
    r["korr_arr"] = {"type_korr": "self", "date_doc_korr": "2026-05-01", "money_bez_nds": r["itog_arr"]["itog_cheka"]}


def _payments_in_korr_arr(r: dict[str, Any]) -> None:
    total = int(float(r["itog_arr"]["itog_cheka"]))
    r["korr_arr"] = {"tip_korr": 1, "data_korr": "01.05.2026", "nomer_predpisaniya": 77, "money_electro": total}
    r["oplata_arr"] = {k: v for k, v in r["oplata_arr"].items() if k not in PAYMENT_FORMS}


def _zero_correction(r: dict[str, Any]) -> None:
    r["products_arr"] = [dict(_first(r), price_piece_bez_skidki=0, skidka=0, price_piece=0, summa=0)]
    r["itog_arr"]["itog_cheka"] = 0
    r["oplata_arr"].update(dict.fromkeys(PAYMENT_FORMS, 0))
    r["korr_arr"] = {"type_korr": 0, "date_doc_korr": "2026-05-01"}


BASIS_ONLY = {"name_doc_korr": "Order", "date_doc_korr": 1767225600}
ORDER_WITHOUT_NUMBER = {"type_korr": "ordered", "date_doc_korr": "1767225600"}

MUTATIONS: dict[str, Mutation] = {
    "line sum off by 2": lambda r: _add(_first(r), "summa", 2),
    "total off by 1": lambda r: _add(r["itog_arr"], "itog_cheka", 1),
    "payments off by 1": lambda r: _add(r["oplata_arr"], "money_vstrecha", 1),
    "unit price far off": lambda r: _add(_first(r), "price_piece", 10**6),
    "discount above the line": lambda r: _first(r).update(skidka=10**12),
    "four decimals": lambda r: _first(r).update(kolvo="1.2345"),
    "zero quantity": lambda r: _first(r).update(kolvo=0),
    "VAT code 13": lambda r: _first(r).update(stavka_nds=13),
    "payment method 8": lambda r: _first(r).update(priznak_sposoba_rascheta=8),
    "tax system 3": lambda r: r["oplata_arr"].update(rezhim_nalog=3),
    "settlement sign 5": lambda r: r["itog_arr"].update(priznak_rascheta=5),
    "money in roubles": lambda r: _first(r).update(summa="150.50"),
    "negative money": lambda r: r["oplata_arr"].update(money_nal=-1),
    "name too long": lambda r: _first(r).update(name_tovar="я" * 129),
    "not an agent, odd agent strings": _not_an_agent,
    "paying agent without its phone": _paying_agent,
    "no price before discount": _no_price_before_discount,
    "discount per unit above the price": lambda r: _first(r).update(skidka=int(float(_first(r)["price_piece"])) + 1),
    "line before discount over the cap": _over_the_money_cap,
    "correction of a future date": lambda r: r.update(korr_arr={"type_korr": 0, "date_doc_korr": "2030-01-01"}),
    "basis document without a type": lambda r: r.update(korr_arr=dict(BASIS_ONLY)),
    "correction by amounts, no lines": _ffd105_correction,
    "correction with its payments in korr_arr": _payments_in_korr_arr,
    "correction with a zero total": _zero_correction,
    "correction by order without its number": lambda r: r.update(korr_arr=dict(ORDER_WITHOUT_NUMBER)),
}


def python_outcome(receipt: dict[str, Any]) -> dict[str, Any]:
    try:
        wire = parse_receipt(receipt, today=TODAY).to_wire()
    except ReceiptError as exc:
        return {"path": exc.path}
    return {"wire": wire}


def fiscal_projection(wire: dict[str, Any]) -> dict[str, Any]:
    """What changes the fiscal document: lines' money, quantities and codes, totals, payments."""
    line_fields = (
        "price_piece_bez_skidki",
        "kolvo",
        "skidka",
        "price_piece",
        "summa",
        "stavka_nds",
        "priznak_sposoba_rascheta",
        "priznak_predmeta_rascheta",
        "priznak_agenta",
    )
    pay_fields = ("rezhim_nalog", *PAYMENT_FORMS)
    return {
        "lines": [[float(p[f]) if f == "kolvo" else p[f] for f in line_fields] for p in wire["products_arr"]],
        "itog": wire["itog_arr"],
        "oplata": {f: wire["oplata_arr"][f] for f in pay_fields},
    }


def run_php(php: str, receipts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cases = [{"receipt": r, "date": TODAY.isoformat()} for r in receipts]
    result = subprocess.run(
        [php, str(CHECK_SCRIPT)], input=json.dumps(cases), capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    outcomes: list[dict[str, Any]] = json.loads(result.stdout)
    return outcomes


@settings(max_examples=examples(15), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(receipt=receipts_wire(TODAY))
def test_php_receipt_check_agrees_with_the_server(php: str, receipt: dict[str, Any]) -> None:
    variants = {"as drawn": receipt}
    for name, mutate in MUTATIONS.items():
        variant = copy.deepcopy(receipt)
        mutate(variant)
        variants[name] = variant
    php_outcomes = run_php(php, list(variants.values()))
    for (name, variant), got in zip(variants.items(), php_outcomes, strict=True):
        expected = python_outcome(variant)
        if "path" in expected:
            assert got.get("path") == expected["path"], (name, got, expected)
        else:
            assert "wire" in got, (name, got)
            assert fiscal_projection(got["wire"]) == fiscal_projection(expected["wire"]), name
    assert "wire" in php_outcomes[0]  # the drawn receipt itself is valid
