"""Apply the Alembic migrations shipped in ``kassagate/storage/migrations``.

Programmatic: no ``alembic.ini`` is needed at run time. Concurrent starts are serialised:
an advisory lock on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_PG_LOCK_KEY = 0x6B617373  # "kass": one advisory lock for kassagate's migrations


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _upgrade_sync(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


def current_revision_sync(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the database of ``engine`` to the latest migration (idempotent)."""
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
            await conn.commit()
            try:
                await conn.run_sync(_upgrade_sync)
                await conn.commit()
            finally:
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                await conn.commit()
        return
    async with engine.execution_options(sqlite_begin="IMMEDIATE").begin() as conn:
        await conn.run_sync(_upgrade_sync)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(current_revision_sync)
