import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kassagate.core.tables import VAT_RATES, tax_percents_valid_on, vat_amount


@pytest.mark.parametrize(
    ("code", "day", "valid"),
    [
        (1, dt.date(2026, 1, 4), True),
        (1, dt.date(2026, 1, 5), False),
        (3, dt.date(2026, 1, 5), False),
        (11, dt.date(2026, 1, 4), False),
        (11, dt.date(2026, 1, 5), True),
        (12, dt.date(2026, 1, 5), True),
        (7, dt.date(2024, 12, 31), False),
        (7, dt.date(2025, 1, 1), True),
        (2, dt.date(2000, 1, 1), True),
        (6, dt.date(2099, 1, 1), True),
    ],
)
def test_vat_validity_by_date(code: int, day: dt.date, valid: bool) -> None:
    assert VAT_RATES[code].valid_on(day) is valid


def test_tax_percents_follow_the_law() -> None:
    assert 2000 in tax_percents_valid_on(dt.date(2025, 6, 1))
    assert 2000 not in tax_percents_valid_on(dt.date(2026, 6, 1))
    assert 2200 in tax_percents_valid_on(dt.date(2026, 6, 1))
    assert 0 in tax_percents_valid_on(dt.date(2026, 6, 1))


def test_vat_amount_examples() -> None:
    assert vat_amount(12000, VAT_RATES[3]) == 2000
    assert vat_amount(11000, VAT_RATES[4]) == 1000
    assert vat_amount(12200, VAT_RATES[11]) == 2200
    assert vat_amount(12345, VAT_RATES[6]) == 0
    assert vat_amount(12345, VAT_RATES[5]) == 0


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(sorted(VAT_RATES)))
def test_vat_never_exceeds_amount(amount: int, code: int) -> None:
    v = vat_amount(amount, VAT_RATES[code])
    assert 0 <= v <= amount
