"""The PHP client's local receipt check agrees with the server's rules.

Receipts drawn by ``strategies.receipts_wire`` (valid, in the lenient encodings real
clients use), and variants of each with one fiscal rule broken, go through the PHP
library's ``Receipt::fromArray`` (``clients/php/tests/check_receipts.php``) and through
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
from strategies import receipts_wire

CHECK_SCRIPT = Path(__file__).resolve().parents[3] / "clients" / "php" / "tests" / "check_receipts.php"
TODAY = dt.date(2026, 6, 1)

Mutation = Callable[[dict[str, Any]], None]


def _first(r: dict[str, Any]) -> dict[str, Any]:
    return r["products_arr"][0]


def _add(obj: dict[str, Any], key: str, delta: int) -> None:
    obj[key] = int(float(obj[key])) + delta


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


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(receipt=receipts_wire(TODAY, corrections=False))
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
