"""Storage: the service database (contract C4 in ``docs/architecture.md``).

SQLAlchemy 2 Core, async: aiosqlite (WAL, ``synchronous=FULL``) by default, asyncpg for
PostgreSQL. The schema is created and upgraded by the Alembic migrations shipped in
``kassagate/storage/migrations``, applied on start by :func:`open_database`.
"""

from __future__ import annotations

from kassagate.storage.db import Database, create_engine, open_database, utc_micros
from kassagate.storage.migrate import upgrade
from kassagate.storage.schema import clusters, kassas, kkts, metadata, requests

__all__ = [
    "Database",
    "clusters",
    "create_engine",
    "kassas",
    "kkts",
    "metadata",
    "open_database",
    "requests",
    "upgrade",
    "utc_micros",
]
