"""Which register is ruled out for a request, and the request's timeline of events.

``requests.kkt_ruled_out``: the register in ``kkt_id`` is known to hold no document of the
request (it refused the connection, refused the document, or said it has no such
document). While it is false and an earlier attempt may have sent the document there, the
request is *in doubt* at that register and goes nowhere else.

``request_events``: what happened to a request beyond its row (a register's answer or
fault, a decision taken), for the status, the logs and the cabinet's timeline.

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


def downgrade() -> None:
    op.drop_index("ix_request_events_request_id_id", table_name="request_events")
    op.drop_table("request_events")
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("kkt_ruled_out")
