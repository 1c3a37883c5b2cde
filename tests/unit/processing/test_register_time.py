"""The register's time (``printTime``/``docTime``) as the worker reads it."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kassagate.core.register.clock import parse_time as _parse_register_time

MSK = dt.timezone(dt.timedelta(hours=3))


@given(st.datetimes(min_value=dt.datetime(1000, 1, 1)).map(lambda d: d.replace(microsecond=0)))
def test_the_registers_format_reads_as_strptime_reads_it(when: dt.datetime) -> None:
    text = when.strftime("%Y-%m-%d %H:%M:%S")
    assert _parse_register_time(text, MSK) == when.replace(tzinfo=MSK)


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "2026-11-23",
        "2026-11-23T10:11:12",  # ISO with a T: not the register's format
        "2026-11-23 10:11+03:0",  # 19 characters, an offset where the seconds belong
        "2026-13-23 10:11:12",
        "2026-02-30 10:11:12",
        "2026-11-23 24:00:00",
        "2026-11-23 10:11:1x",
        "2026-11-23 10:11:12.5",
    ],
)
def test_anything_else_is_no_time(text: str | None) -> None:
    assert _parse_register_time(text, MSK) is None
