"""A debug kassa's request: stored ended at once, with fake fiscal data (code 390)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kassagate.core.qr import build_qr
from kassagate.core.receipt import Receipt
from kassagate.core.states import RequestStatus
from kassagate.core.tables import DEBUG_FD_NUMBER, DEBUG_FISCAL_SIGN, DEBUG_FN_SERIAL
from kassagate.front.intake.receipt import MSK

#: Fake registration number and shift of a debug receipt (FN, FD and FP are core/tables.py's).
DEBUG_KKT_REG_NUMBER = "9999999999999999"
DEBUG_SHIFT_NUMBER = 0
DEBUG_NUMBER_IN_SHIFT = 0


def debug_fiscal_data(accepted_at: int, receipt: Receipt) -> dict[str, Any]:
    """The stored fields of a debug-mode request: its final status and fake fiscal data
    (front.md §6)."""
    when = dt.datetime.fromtimestamp(accepted_at / 1_000_000, MSK)
    qr = build_qr(
        when=when,
        total=receipt.total,
        fn_serial=DEBUG_FN_SERIAL,
        fd=DEBUG_FD_NUMBER,
        fp=int(DEBUG_FISCAL_SIGN),
        sign=int(receipt.itog_arr.priznak_rascheta),
    )
    return {
        "status": RequestStatus.DEBUG,
        "fiscal_dt": accepted_at,
        "fd_number": DEBUG_FD_NUMBER,
        "fiscal_sign": DEBUG_FISCAL_SIGN,
        "fn_serial": DEBUG_FN_SERIAL,
        "kkt_reg_number": DEBUG_KKT_REG_NUMBER,
        "shift_number": DEBUG_SHIFT_NUMBER,
        "number_in_shift": DEBUG_NUMBER_IN_SHIFT,
        "qr": qr,
        "finished_at": accepted_at,
    }
