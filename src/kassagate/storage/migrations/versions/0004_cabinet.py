"""The cabinet: users, what a merchant owns, the indexes of the requests pages.

``users``: login, an Argon2id password hash, role ``operator`` or ``merchant``; a
``session_epoch`` that changes with the password or when the user is disabled (sessions
signed under an older epoch are refused). ``user_kassas`` and ``user_clusters``: the
kassas and clusters a merchant owns.

``requests.order_label``: the receipt's ``name_zakaz`` (the order label), for the search.
Indexes for keyset pagination newest first within a kassa, and for the search by RID and
order label.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("session_epoch", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("login", name="uq_users_login"),
    )
    op.create_table(
        "user_kassas",
        sa.Column("user_id", Id, sa.ForeignKey("users.id", name="fk_user_kassas_user_id_users"), nullable=False),
        sa.Column(
            "kassaid", sa.String(20), sa.ForeignKey("kassas.kassaid", name="fk_user_kassas_kassaid_kassas"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("user_id", "kassaid", name="pk_user_kassas"),
    )
    op.create_table(
        "user_clusters",
        sa.Column("user_id", Id, sa.ForeignKey("users.id", name="fk_user_clusters_user_id_users"), nullable=False),
        sa.Column(
            "cluster_id",
            sa.String(20),
            sa.ForeignKey("clusters.cluster_id", name="fk_user_clusters_cluster_id_clusters"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("user_id", "cluster_id", name="pk_user_clusters"),
    )
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("order_label", sa.String(256), nullable=True))
    op.create_index("ix_requests_kassaid_id", "requests", ["kassaid", "id"])
    op.create_index("ix_requests_rid", "requests", ["rid"])
    op.create_index("ix_requests_order_label", "requests", ["order_label"])


def downgrade() -> None:
    op.drop_index("ix_requests_order_label", table_name="requests")
    op.drop_index("ix_requests_rid", table_name="requests")
    op.drop_index("ix_requests_kassaid_id", table_name="requests")
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("order_label")
    op.drop_table("user_clusters")
    op.drop_table("user_kassas")
    op.drop_table("users")
