"""Fixtures: a virtual register over real HTTP (see ``support.cashbox``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.cashbox import Served, serve


@pytest.fixture
async def reg(tmp_path: Path) -> AsyncIterator[Served]:
    """A registered register in cloud mode (auto shifts)."""
    async for s in serve(tmp_path):
        yield s


@pytest.fixture
async def device(tmp_path: Path) -> AsyncIterator[Served]:
    """A registered register in device mode (--no-auto-shift)."""
    async for s in serve(tmp_path, auto_shift=False):
        yield s
