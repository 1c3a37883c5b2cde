"""The callback outbox: one row per ended request of a kassa with a callback URL.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "callbacks",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("request_id", Id, sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("kassaid", sa.String(20), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.BigInteger, nullable=False),
        sa.Column("lease_until", sa.BigInteger, nullable=True),
        sa.Column("delivered_at", sa.BigInteger, nullable=True),
        sa.Column("gave_up_at", sa.BigInteger, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("request_id", name="uq_callbacks_request_id"),
    )
    op.create_index("ix_callbacks_due", "callbacks", ["delivered_at", "gave_up_at", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_callbacks_due", table_name="callbacks")
    op.drop_table("callbacks")
