"""The fiscal data of a debug request: a kassa in debug mode has its receipts checked and
stored like any other, never sent to a register, and answered at once with fake fiscal
data that no one can take for real (an FN serial, FD number and fiscal sign of nines,
shift 0). Pure: the acceptance time is passed in."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kassagate.core.qr import build_qr
from kassagate.core.receipt import MSK, Receipt
from kassagate.core.states import RequestStatus
from kassagate.core.tables import DEBUG_FD_NUMBER, DEBUG_FISCAL_SIGN, DEBUG_FN_SERIAL

__all__ = [
    "DEBUG_FD_NUMBER",
    "DEBUG_FISCAL_SIGN",
    "DEBUG_FN_SERIAL",
    "DEBUG_KKT_REG_NUMBER",
    "DEBUG_NUMBER_IN_SHIFT",
    "DEBUG_SHIFT_NUMBER",
    "debug_fiscal_data",
]

#: Fake registration number and shift of a debug receipt.
DEBUG_KKT_REG_NUMBER = "9999999999999999"
DEBUG_SHIFT_NUMBER = 0
DEBUG_NUMBER_IN_SHIFT = 0


def debug_fiscal_data(accepted_at: int, receipt: Receipt) -> dict[str, Any]:
    """The stored fields of a debug request accepted at ``accepted_at`` (microseconds since
    the epoch): status debug, the fake fiscal data, the QR string of the receipt's total and
    settlement sign at its acceptance time (Moscow), finished when accepted."""
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
        "status": int(RequestStatus.DEBUG),
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
