"""The tax entries of a position (``itemTaxes``) and the tax percents a register accepts:
its fixed list when it has one, else the Russian VAT table by settlement date (any rate of
the table for a return or a correction)."""

from __future__ import annotations

import datetime as dt
import functools
import re
from decimal import Decimal
from typing import Any, NamedTuple

from kassagate.core.codes import CashboxCode as C
from kassagate.core.register.fields import as_int
from kassagate.core.register.model import CashboxError
from kassagate.core.tables import ALL_TAX_PERCENTS, VAT_RATES, tax_percents_valid_on


class Tax(NamedTuple):
    percent: int  # × 100
    calc_type: int
    code: int | None  # 1199


@functools.lru_cache(maxsize=64)
def _valid_percents(day: dt.date) -> frozenset[int]:
    return tax_percents_valid_on(day) | {0}


_ALL_PERCENTS = ALL_TAX_PERCENTS | {0}


def accepted_percents(day: dt.date, any_rate: bool, rates: frozenset[int] | None) -> frozenset[int]:
    """The tax percents (× 100) a register accepts: its fixed list ``rates`` when it has
    one, else the Russian VAT table: the rates valid on ``day``, or for a return or
    correction (``any_rate``) every rate of the table."""
    if rates is not None:
        return rates
    return _ALL_PERCENTS if any_rate else _valid_percents(day)


#: Every percent 0..10000: the positions of a document already fiscalized are read back
#: with this (a register's accepted rates may have changed since).
ANY_PERCENT: frozenset[int] = frozenset(range(10001))
#: At most this many percents in a register's fixed list.
MAX_TAX_RATES = 32


def check_tax_rates(values: list[int]) -> list[int]:
    """A register's fixed list of tax percents (× 100), sorted; ValueError says what is wrong."""
    if not values:
        raise ValueError("the tax rate list is empty: give percents × 100 such as 1800,800,0")
    if len(values) > MAX_TAX_RATES:
        raise ValueError(f"at most {MAX_TAX_RATES} tax rates, got {len(values)}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 10000:
            raise ValueError(f"a tax rate is a percent × 100, an integer 0..10000 (18 % is 1800), got {v!r}")
    return sorted(set(values))


def parse_tax_rates(text: str) -> list[int] | None:
    """``--tax-rates``: ``ru`` (the Russian VAT table by date: None) or a list such as
    ``1800,800,200,0``."""
    t = text.strip()
    if t.lower() == "ru":
        return None
    out: list[int] = []
    for part in t.split(","):
        v = as_int(part)
        if v is None:
            raise ValueError(f"--tax-rates takes ru or percents × 100 separated by commas (1800,800,0), "
                             f"not {part.strip()[:20]!r}")
        out.append(v)
    return check_tax_rates(out)


@functools.lru_cache(maxsize=16)
def rates_of(setting: tuple[int, ...] | None) -> frozenset[int] | None:
    """The accepted percents of a register's ``tax_rates`` setting (None: the Russian table)."""
    return None if setting is None else frozenset(setting)


_RATE_TEXT = re.compile(r"\d{1,3}(\.\d{1,12})?")


def _percent_of_rate(v: Any, p: str) -> int:
    """``taxRate`` (percent as a number: 18, 18.0, "18", "12.5") -> percent × 100."""
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise CashboxError(C.TAX_INCORRECT, f"{p}taxRate must be a percent (a number such as 18 or 12.5), "
                                            f"got {type(v).__name__}")
    text = v.strip() if isinstance(v, str) else repr(v)
    if isinstance(v, str) and not _RATE_TEXT.fullmatch(text):
        raise CashboxError(C.TAX_INCORRECT, f"{p}taxRate must be a percent such as 18 or 12.5, got {v[:40]!r}")
    try:
        x100 = Decimal(text) * 100
    except ArithmeticError:
        raise CashboxError(C.TAX_INCORRECT, f"{p}taxRate must be a percent, got {text[:40]}") from None
    if not x100.is_finite() or x100 != x100.to_integral_value() or not 0 <= x100 <= 10000:
        raise CashboxError(C.TAX_INCORRECT, f"{p}taxRate must be a percent 0..100 with at most two decimals, "
                                            f"got {text[:40]}")
    return int(x100)


def _tax_percent(t: dict[str, Any], p: str) -> int | None:
    """The entry's percent × 100 from ``taxPrc`` and/or ``taxRate``; None when it has neither."""
    out: int | None = None
    prc = t.get("taxPrc")
    if prc is not None and prc != "":
        out = as_int(prc)
        if out is None or not 0 <= out <= 10000:
            raise CashboxError(C.TAX_INCORRECT, f"{p}taxPrc must be an integer 0..10000 (percent × 100), "
                                                f"got {str(prc)[:40]!r}")
    rate = t.get("taxRate")
    if rate is not None and rate != "":
        from_rate = _percent_of_rate(rate, p)
        if out is not None and out != from_rate:
            raise CashboxError(C.TAX_INCORRECT, f"{p}taxPrc {out} and taxRate {rate} disagree "
                                                "(taxPrc is the percent × 100)")
        out = from_rate
    return out


def _unaccepted(prc: int, p: str, day: dt.date, any_rate: bool, rates: frozenset[int] | None) -> CashboxError:
    accepted = sorted(accepted_percents(day, any_rate, rates))
    if rates is not None:
        return CashboxError(C.TAX_UNACCEPTABLE, f"{p}tax percent {prc} is not one this register is configured "
                                                f"for: {accepted}")
    rows = "; ".join(f"{r.name} {r.describe_validity()}" for r in VAT_RATES.values() if r.percent_x100 == prc)
    return CashboxError(C.TAX_UNACCEPTABLE, f"{p}tax percent {prc} is not a VAT rate this register accepts for a "
                                            f"settlement on {day}{f' ({rows})' if rows else ''}: {accepted}")


def parse_taxes(raw: Any, prefix: str, *, day: dt.date, any_rate: bool,
                rates: frozenset[int] | None = None) -> tuple[Tax, ...]:
    """``itemTaxes``: malformed -> 16; a percent the register does not accept -> 12.

    An entry's percent is ``taxPrc`` (× 100) or ``taxRate`` (a percent); an entry with
    neither is "without VAT" (as no entry). ``taxCode`` is the register's tax group label:
    never checked. The extension ``vatCode`` (tag 1199) names the exact Russian VAT row.
    A register with a fixed list (``rates``) accepts its percents; else a sale accepts the
    Russian rates valid on ``day``, returns and corrections (``any_rate``) any rate of the
    table (the rate of the original settlement)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise CashboxError(C.TAX_INCORRECT, f"{prefix}itemTaxes must be a list of tax entries")
    accepted = accepted_percents(day, any_rate, rates)
    out: list[Tax] = []
    for j, t in enumerate(raw):
        p = f"{prefix}itemTaxes[{j}]."
        if not isinstance(t, dict):
            raise CashboxError(C.TAX_INCORRECT, f"{p[:-1]} must be an object {{taxPrc or taxRate, calcType, "
                                                "taxCode}")
        prc = _tax_percent(t, p)
        calc_raw = t.get("calcType")
        calc = 1 if calc_raw is None or calc_raw == "" else as_int(calc_raw)
        if calc not in (1, 2, 3):
            raise CashboxError(C.TAX_INCORRECT, f"{p}calcType must be 1 (in price), 2 (fixed) or 3 (simplified)")
        code_raw = t.get("vatCode")
        code: int | None = None
        if code_raw is not None and code_raw != "":
            code = as_int(code_raw)
            if code is None or code not in VAT_RATES:
                raise CashboxError(C.TAX_INCORRECT, f"{p}vatCode must be a VAT code 1..12 (tag 1199), "
                                                    f"got {str(code_raw)[:40]!r}")
            rate = VAT_RATES[code]
            if prc is None:
                prc = rate.percent_x100 or 0
            elif (rate.percent_x100 or 0) != prc:
                raise CashboxError(C.TAX_INCORRECT, f"{p}tax percent {prc} does not match vatCode {code} "
                                                    f"({rate.name})")
            if rates is None and not any_rate and not rate.valid_on(day):
                raise CashboxError(
                    C.TAX_UNACCEPTABLE,
                    f"{p}vatCode {code} ({rate.name}) is not valid for a settlement on {day}: "
                    f"{rate.describe_validity()}",
                )
        elif prc is None:
            continue  # without VAT
        if prc not in accepted:
            raise _unaccepted(prc, p, day, any_rate, rates)
        out.append(Tax(prc, calc, code))
    return tuple(out)


def line_vat(amount: int, percent_x100: int) -> int:
    """``tables.vat_amount`` in integers: amount × p / (10000 + p), rounded half away from
    zero to the kopeck (exact: no decimal context is involved)."""
    if amount < 0:
        return -line_vat(-amount, percent_x100)
    den = 10000 + percent_x100
    q, r = divmod(amount * percent_x100, den)
    return q + 1 if 2 * r >= den else q
