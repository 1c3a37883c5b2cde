"""Which register is ruled out for a request, the request's timeline of events, and the
index of the queue's claim.

``requests.kkt_ruled_out``: the register in ``kkt_id`` is known to hold no document of the
request (it refused the connection, refused the document, or said it has no such
document). While it is false and an earlier attempt may have sent the document there, the
request is *in doubt* at that register and goes nowhere else.

``request_events``: what happened to a request beyond its row (a register's answer or
fault, a decision taken), for the status, the logs and the cabinet's timeline.

``ix_requests_due``: pending requests by due time (``coalesce(next_attempt_at, 0)``), the
order in which the claim reads them, so that requests waiting for a later retry cost a
poll nothing. It replaces the index on (status, next_attempt_at), which only the claim read.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("kkt_ruled_out", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "request_events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("request_id", Id, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("kkt_id", Id, nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
    )
    op.create_index("ix_request_events_request_id_id", "request_events", ["request_id", "id"])
    pending = sa.text("status = 0")
    op.create_index("ix_requests_due", "requests", [sa.text("coalesce(next_attempt_at, 0)")],
                    sqlite_where=pending, postgresql_where=pending)
    op.drop_index("ix_requests_status_next_attempt_at", table_name="requests")


def downgrade() -> None:
    op.create_index("ix_requests_status_next_attempt_at", "requests", ["status", "next_attempt_at"])
    op.drop_index("ix_requests_due", table_name="requests")
    op.drop_index("ix_request_events_request_id_id", table_name="request_events")
    op.drop_table("request_events")
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("kkt_ruled_out")
