"""The fiscal tables of 54-FZ (FFD 1.05/1.2), as data.

This module is the one place where the law's tables live: a change of law is a change of
a row here. Nothing in it does I/O.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum


@dataclass(frozen=True, slots=True)
class VatRate:
    """One row of the VAT table (tag 1199).

    ``percent_x100`` is the register's tax percent (rate × 100; 20 % -> 2000), ``None`` for
    "without VAT". ``included`` marks the computed rates (20/120 ...), where the tax is
    inside the price. ``valid_from``/``valid_until`` bound the settlement dates (inclusive).
    """

    code: int
    name: str
    percent_x100: int | None
    included: bool
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None

    def valid_on(self, day: dt.date) -> bool:
        if self.valid_from is not None and day < self.valid_from:
            return False
        return not (self.valid_until is not None and day > self.valid_until)

    def describe_validity(self) -> str:
        if self.valid_from and self.valid_until:
            return f"valid from {self.valid_from} until {self.valid_until}"
        if self.valid_from:
            return f"valid from {self.valid_from}"
        if self.valid_until:
            return f"valid until {self.valid_until}"
        return "always valid"


_D = dt.date

#: VAT, tag 1199, by date of settlement.
VAT_RATES: dict[int, VatRate] = {
    r.code: r
    for r in (
        VatRate(1, "20%", 2000, False, valid_until=_D(2026, 1, 4)),
        VatRate(2, "10%", 1000, False),
        VatRate(3, "20/120", 2000, True, valid_until=_D(2026, 1, 4)),
        VatRate(4, "10/110", 1000, True),
        VatRate(5, "0%", 0, False),
        VatRate(6, "without VAT", None, False),
        VatRate(7, "5%", 500, False, valid_from=_D(2025, 1, 1)),
        VatRate(8, "7%", 700, False, valid_from=_D(2025, 1, 1)),
        VatRate(9, "5/105", 500, True, valid_from=_D(2025, 1, 1)),
        VatRate(10, "7/107", 700, True, valid_from=_D(2025, 1, 1)),
        VatRate(11, "22%", 2200, False, valid_from=_D(2026, 1, 5)),
        VatRate(12, "22/122", 2200, True, valid_from=_D(2026, 1, 5)),
    )
}

#: Tax percents (× 100) that any register may be configured for: every rate of the table.
ALL_TAX_PERCENTS: frozenset[int] = frozenset(
    r.percent_x100 for r in VAT_RATES.values() if r.percent_x100 is not None
)


def vat_rates_valid_on(day: dt.date) -> list[VatRate]:
    return [r for r in VAT_RATES.values() if r.valid_on(day)]


def tax_percents_valid_on(day: dt.date) -> frozenset[int]:
    """Tax percents a register accepts for a settlement on ``day`` (0 is always fine)."""
    return frozenset(
        r.percent_x100 for r in vat_rates_valid_on(day) if r.percent_x100 is not None
    )


def vat_amount(amount_kopecks: int, rate: VatRate) -> int:
    """VAT contained in (computed rates) or charged on top of ``amount`` for one line,
    rounded half up to the kopeck. For FFD, line amounts include VAT, so both kinds of
    rate give amount × p / (100 + p)."""
    if rate.percent_x100 is None or rate.percent_x100 == 0:
        return 0
    p = Decimal(rate.percent_x100)
    v = Decimal(amount_kopecks) * p / (Decimal(10000) + p)
    return int(v.quantize(Decimal(1), rounding="ROUND_HALF_UP"))


class SettlementSign(IntEnum):
    """Tag 1054."""

    SALE = 1
    SALE_RETURN = 2
    PURCHASE = 3
    PURCHASE_RETURN = 4

    @property
    def is_return(self) -> bool:
        return self in (SettlementSign.SALE_RETURN, SettlementSign.PURCHASE_RETURN)


class TaxSystem(IntEnum):
    """Tag 1055 on a receipt. 3 (imputed income) no longer exists."""

    GENERAL = 0
    SIMPLIFIED_INCOME = 1
    SIMPLIFIED_INCOME_MINUS_EXPENSE = 2
    AGRICULTURAL = 4
    PATENT = 5


#: Tag 1214 payment method, 1..7.
PAYMENT_METHODS: dict[int, str] = {
    1: "full prepayment",
    2: "partial prepayment",
    3: "advance",
    4: "full payment",
    5: "partial payment and credit",
    6: "transfer on credit",
    7: "credit payment",
}

#: Tag 1212 payment subject (FFD 1.2): 1..33.
PAYMENT_SUBJECTS: frozenset[int] = frozenset(range(1, 34))

#: Tag 1222 agent sign: 0..6 or none.
AGENT_SIGNS: frozenset[int] = frozenset(range(0, 7))

#: Tag 2108 measure of quantity (FFD 1.2): 0 pieces, 10-12 mass, 20-22 length,
#: 30-32 area, 40-42 volume, 50-51 energy, 70-73 time, 80-83 data, 255 other.
MEASURE_UNITS: frozenset[int] = frozenset(
    [0, 10, 11, 12, 20, 21, 22, 30, 31, 32, 40, 41, 42, 50, 51, 70, 71, 72, 73, 80, 81, 82, 83,
     255]
)

#: Payment forms of a receipt: field name -> FFD tag.
PAYMENT_FORMS: dict[str, int] = {
    "money_nal": 1031,  # cash
    "money_electro": 1081,  # electronic
    "money_predoplata": 1215,  # prepayment offset
    "money_postoplata": 1216,  # credit
    "money_vstrecha": 1217,  # counter-provision
}

#: Length limits (characters).
MAX_ITEM_NAME = 128  # tag 1030
MAX_VEND_ADDRESS = 256  # tag 1009
MAX_VEND_PLACE = 256  # tag 1187
MAX_VEND_MACHINE_NUMBER = 20  # tag 1036

#: The fiscal drive.
FN_SERIAL_DIGITS = 16
KKT_REG_NUMBER_DIGITS = 16
FN_VALIDITY_MONTHS = (15, 36)
FN_WARN_FRACTION = 0.9  # 1050/1051/1052 flags at 90 %
OFD_MAX_UNSENT_AGE = dt.timedelta(days=30)
SHIFT_MAX_DURATION = dt.timedelta(hours=24)

#: Fake fiscal data of a debug-mode receipt: no one can take it for real.
DEBUG_FN_SERIAL = "9999999999999999"
DEBUG_FD_NUMBER = 999
DEBUG_FISCAL_SIGN = "9999999999"


#: The tax authority's website (tag 1060), printed on every receipt.
FNS_SITE = "www.nalog.gov.ru"
