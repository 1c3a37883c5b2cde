"""Shared fixtures: real SQLite and PostgreSQL databases, free ports, small RSA keys.

PostgreSQL: ``KASSAGATE_TEST_PG`` (default ``postgresql://postgres@127.0.0.1:5432/test``).
Each test that asks for it gets a database of its own, dropped afterwards. Where no server
answers, those tests skip with the reason, except when ``KASSAGATE_REQUIRE_PG=1`` (set by
``.ci/run``): then they fail, so that CI can never pass without exercising PostgreSQL.

Hypothesis: the ``fast`` profile by default, ``ci`` (the long runs) under
``HYPOTHESIS_PROFILE=ci``, as ``.ci/run`` sets it (``support/profiles.py``); the unit
layer's long runs (marked ``slow``) run under ``ci`` only.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from support.profiles import load_profile
from support.system import free_port

PROFILE = load_profile()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The unit layer is for fast feedback: its long runs (marked ``slow``, such as the
    intake's fuzz of thousands of envelopes) run under the ``ci`` profile only."""
    if PROFILE == "ci":
        return
    unit = Path(__file__).parent / "unit"
    skip = pytest.mark.skip(reason="a long run of the unit layer: HYPOTHESIS_PROFILE=ci runs it (.ci/run does)")
    for item in items:
        if item.get_closest_marker("slow") and unit in item.path.parents:
            item.add_marker(skip)

PG_ADMIN_URL = os.environ.get("KASSAGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("KASSAGATE_REQUIRE_PG") == "1"

# Tests generate 2048-bit keys unless they ask otherwise: 4096-bit generation takes seconds.
os.environ.setdefault("KASSAGATE_RSA_BITS", "2048")


def _pg_unavailable_reason() -> str | None:
    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
        await conn.close()

    # A thread of its own: callers may be inside a running event loop.
    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(probe())
        except Exception as exc:  # any failure to connect means "no PostgreSQL here"
            errors.append(exc)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if errors:
        exc = errors[0]
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}: {exc}"
    return None


_PG_REASON: list[str | None] = []


def pg_unavailable_reason() -> str | None:
    if not _PG_REASON:
        _PG_REASON.append(_pg_unavailable_reason())
    return _PG_REASON[0]


def require_pg() -> None:
    """Skip (or, under KASSAGATE_REQUIRE_PG=1, fail) when PostgreSQL is not reachable."""
    reason = pg_unavailable_reason()
    if reason is None:
        return
    if REQUIRE_PG:
        pytest.fail(f"KASSAGATE_REQUIRE_PG=1 but {reason}")
    pytest.skip(reason)


async def create_pg_database() -> str:
    """Create a fresh database and return its plain ``postgresql://`` URL."""
    import asyncpg

    name = f"kg_test_{uuid.uuid4().hex[:16]}"
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


async def drop_pg_database(url: str) -> None:
    import asyncpg

    name = url.rpartition("/")[2]
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database (plain ``postgresql://`` URL)."""
    require_pg()
    url = await create_pg_database()
    try:
        yield url
    finally:
        await drop_pg_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The service database on each engine: SQLite in tmp_path, then a fresh PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kassagate.sqlite3'}"
        return
    require_pg()
    url = await create_pg_database()
    try:
        yield url
    finally:
        await drop_pg_database(url)


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    d = tmp_path / "data"
    d.mkdir()
    yield d
