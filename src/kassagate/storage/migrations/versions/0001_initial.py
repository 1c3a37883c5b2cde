"""Initial schema: kkts, clusters, kassas, requests (contract C4).

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "kkts",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("url", sa.Text, nullable=True),
        sa.Column("merchant_id", sa.Text, nullable=True),
        sa.Column("journal_path", sa.Text, nullable=True),
        sa.Column("fn_serial", sa.String(32), nullable=True),
        sa.Column("kkt_reg_number", sa.String(32), nullable=True),
        sa.Column("fn_state", sa.String(16), nullable=False, server_default="ok"),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_kkts"),
    )
    op.create_table(
        "clusters",
        sa.Column("cluster_id", sa.String(20), nullable=False),
        sa.Column("token_salt", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(160), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("activated", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("cluster_id", name="pk_clusters"),
    )
    op.create_table(
        "kassas",
        sa.Column("kassaid", sa.String(20), nullable=False),
        sa.Column("token_salt", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(160), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("activated", sa.Boolean, nullable=False),
        sa.Column("debug", sa.Boolean, nullable=False),
        sa.Column("kkt_id", Id, nullable=True),
        sa.Column("cluster_id", sa.String(20), nullable=True),
        sa.Column("callback_url", sa.Text, nullable=True),
        sa.Column("callback_secret", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("kassaid", name="pk_kassas"),
        sa.ForeignKeyConstraint(["kkt_id"], ["kkts.id"], name="fk_kassas_kkt_id_kkts"),
        sa.ForeignKeyConstraint(["cluster_id"], ["clusters.cluster_id"], name="fk_kassas_cluster_id_clusters"),
    )
    op.create_index("ix_kassas_cluster_id", "kassas", ["cluster_id"])
    op.create_table(
        "requests",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("nuid", sa.String(23), nullable=False),
        sa.Column("qnuid", sa.String(23), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("kassaid", sa.String(20), nullable=False),
        sa.Column("cluster_id", sa.String(20), nullable=True),
        sa.Column("rid_scope", sa.String(40), nullable=True),
        sa.Column("rid", sa.String(64), nullable=True),
        sa.Column("receipt", sa.Text, nullable=False),
        sa.Column("receipt_hash", sa.String(64), nullable=False),
        sa.Column("check_type", sa.Integer, nullable=False),
        sa.Column("debug", sa.Boolean, nullable=False),
        sa.Column("accepted_at", sa.BigInteger, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("error_code", sa.Integer, nullable=True),
        sa.Column("error_text", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.BigInteger, nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.BigInteger, nullable=True),
        sa.Column("kkt_id", Id, nullable=True),
        sa.Column("fiscal_dt", sa.BigInteger, nullable=True),
        sa.Column("fd_number", sa.BigInteger, nullable=True),
        sa.Column("fiscal_sign", sa.String(20), nullable=True),
        sa.Column("fn_serial", sa.String(32), nullable=True),
        sa.Column("kkt_reg_number", sa.String(32), nullable=True),
        sa.Column("shift_number", sa.Integer, nullable=True),
        sa.Column("number_in_shift", sa.Integer, nullable=True),
        sa.Column("qr", sa.Text, nullable=True),
        sa.Column("finished_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_requests"),
        sa.UniqueConstraint("nuid", name="uq_requests_nuid"),
        sa.UniqueConstraint("rid_scope", "rid", name="uq_requests_rid_scope_rid"),
    )
    op.create_index("ix_requests_status_next_attempt_at", "requests", ["status", "next_attempt_at"])
    op.create_index("ix_requests_kassaid_status", "requests", ["kassaid", "status"])


def downgrade() -> None:
    op.drop_index("ix_requests_kassaid_status", table_name="requests")
    op.drop_index("ix_requests_status_next_attempt_at", table_name="requests")
    op.drop_table("requests")
    op.drop_index("ix_kassas_cluster_id", table_name="kassas")
    op.drop_table("kassas")
    op.drop_table("clusters")
    op.drop_table("kkts")
