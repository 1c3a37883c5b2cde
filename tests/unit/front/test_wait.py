import math

import pytest

from kassagate.front.intake.wait import MAX_SYNC_WAIT, wait_seconds


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (5, 5.0),
        ("2.5", 2.5),
        (0.1, 0.1),
        (3600, MAX_SYNC_WAIT),
        (None, 0.0),
        (0, 0.0),
        (-3, 0.0),
        ("soon", 0.0),
        (True, 0.0),
        ([5], 0.0),
        (math.nan, 0.0),
        (math.inf, MAX_SYNC_WAIT),
    ],
)
def test_wait_is_a_bounded_number_of_seconds(value: object, seconds: float) -> None:
    layer2 = {} if value is None else {"wait": value}
    assert wait_seconds(layer2) == seconds
