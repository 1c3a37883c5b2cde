"""A PostgreSQL database of its own for a benchmark run, at ``KASSAGATE_TEST_PG``'s server
(default ``postgresql://postgres@127.0.0.1:5432/test``), dropped afterwards."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

PG_ADMIN = os.environ.get("KASSAGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


async def available() -> str | None:
    """None when a server answers, else why not."""
    try:
        conn = await asyncpg.connect(PG_ADMIN, timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        return f"{type(exc).__name__}: no server at KASSAGATE_TEST_PG"
    await conn.close()
    return None


@asynccontextmanager
async def temporary_database(prefix: str) -> AsyncIterator[str]:
    """The URL of a new, empty database, dropped when the block ends."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        admin = await asyncpg.connect(PG_ADMIN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
