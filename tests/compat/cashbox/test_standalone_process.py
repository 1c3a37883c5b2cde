"""``kassagate cashbox --tax-rates ...`` as a point-of-sale developer starts it: a real
process, signed requests over TCP, the settings stored with the register."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from support.cashbox_compat import signed_body
from support.system import free_port

KASSAGATE = str(Path(sys.executable).parent / "kassagate")
SECRET = "pos-developer-secret-0123456789"


@contextlib.contextmanager
def cashbox(data: Path, *args: str) -> Iterator[httpx.Client]:
    port = free_port()
    env = {**os.environ, "KASSAGATE_MERCHANT_ID": SECRET}
    proc = subprocess.Popen([KASSAGATE, "cashbox", "--data-dir", str(data), "--port", str(port), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    http.post("/get_info", content=b"")
                    break
                except httpx.TransportError:
                    assert proc.poll() is None and time.monotonic() < deadline, "kassagate cashbox did not start"
                    time.sleep(0.05)
            yield http
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def call(http: httpx.Client, endpoint: str, request: dict[str, Any]) -> dict[str, Any]:
    r = http.post(f"/{endpoint}", content=signed_body(request, SECRET), headers={"content-type": "text/plain;"})
    assert r.status_code == 200
    out: dict[str, Any] = r.json()
    return out


JAVA_SALE = {"amount": 11800, "items": [{"itemName": "Çay", "itemQty": 1000, "itemAmount": 11800,
                                         "itemTaxes": [{"taxRate": 18.0, "taxAmount": 18.0}]}],
             "payments": {"cashAmount": 20000}}


def test_tax_rates_and_id_types_are_register_settings(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with cashbox(data, "--tax-rates", "1800,800,200,0", "--no-auto-shift", "--shift-id-type", "string") as http:
        info = call(http, "get_info", {})
        assert (info["taxTable"], info["taxRates"], info["shiftIdType"]) == ("fixed", [0, 200, 800, 1800], "string")
        opened = call(http, "open_shift", {})
        assert opened["code"] == 0 and opened["shiftID"] == "1"
        sale = call(http, "sale", JAVA_SALE)
        assert sale["code"] == 0 and sale["change"] == 8200 and len(sale["fiscalID"]) == 12
        assert "documentExtID" not in sale
        assert call(http, "x_report", {"shiftID": ""})["saleVatAmounts"] == [{"vatPercent": 1800, "vatAmount": 1800}]
    with cashbox(data) as http:  # kept when not given again
        assert call(http, "get_info", {})["taxRates"] == [0, 200, 800, 1800]
        assert call(http, "sale", JAVA_SALE)["code"] == 0
    with cashbox(data, "--tax-rates", "ru") as http:  # back to the Russian table
        assert call(http, "get_info", {})["taxTable"] == "ru-vat-by-date"
        assert call(http, "sale", JAVA_SALE)["code"] == 12


def test_a_bad_tax_rate_list_is_refused_at_start(tmp_path: Path) -> None:
    r = subprocess.run([KASSAGATE, "cashbox", "--data-dir", str(tmp_path), "--tax-rates", "18%,8%"],
                       env={**os.environ, "KASSAGATE_MERCHANT_ID": SECRET}, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--tax-rates" in r.stderr and SECRET not in r.stderr + r.stdout
