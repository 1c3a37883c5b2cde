"""Alembic environment: runs on the connection handed in by ``kassagate.storage.migrate``."""

from __future__ import annotations

from alembic import context

from kassagate.storage.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("kassagate migrations run through kassagate.storage.migrate.upgrade(engine)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
