"""The fiscal data of a debug request: fake, recognisable, and the same as the intake
stores for a debug kassa."""

from __future__ import annotations

import datetime as dt

from kassagate.core.debug import DEBUG_KKT_REG_NUMBER, debug_fiscal_data
from kassagate.core.receipt import parse_receipt
from kassagate.core.states import RequestStatus
from kassagate.front.intake import pipeline
from support.receipts import product, receipt

ACCEPTED_AT = int(dt.datetime(2026, 3, 2, 7, 4, 59, tzinfo=dt.UTC).timestamp() * 1_000_000)


def test_debug_fiscal_data_is_fake_and_finished_at_acceptance() -> None:
    r = parse_receipt(receipt(products=[product(price=12345, qty=1)]), today=dt.date(2026, 3, 2))
    data = debug_fiscal_data(ACCEPTED_AT, r)
    assert data["status"] == RequestStatus.DEBUG == 3
    assert data["fiscal_dt"] == data["finished_at"] == ACCEPTED_AT
    assert data["fn_serial"] == DEBUG_KKT_REG_NUMBER == "9" * 16
    assert (data["fd_number"], data["fiscal_sign"], data["shift_number"], data["number_in_shift"]) == (
        999, "9999999999", 0, 0)
    # the QR carries the acceptance minute in Moscow time (UTC+3) and the receipt's total
    assert data["qr"] == f"t=20260302T1004&s=123.45&fn={'9' * 16}&i=999&fp=9999999999&n=1"


def test_the_intake_stores_this_debug_data() -> None:
    assert pipeline.debug_fiscal_data is debug_fiscal_data
