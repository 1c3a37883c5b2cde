"""The tables of contract C4, as SQLAlchemy Core metadata.

This module describes the schema as the latest migration leaves it; the migrations in
``migrations/versions`` are what create it. Times are integer microseconds since the Unix
epoch (UTC).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
    literal_column,
)

# Explicit constraint names, so that later migrations can refer to them on both engines.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

#: An integer primary key that is 64-bit on PostgreSQL and a ROWID alias on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")

kkts = Table(
    "kkts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # virtual | remote
    Column("url", Text, nullable=True),  # remote: base URL of the Cashbox endpoint
    Column("merchant_id", Text, nullable=True),
    Column("journal_path", Text, nullable=True),  # virtual: relative to the data dir
    Column("fn_serial", String(32), nullable=True),
    Column("kkt_reg_number", String(32), nullable=True),
    Column("fn_state", String(16), nullable=False, server_default="ok"),  # ok|full|broken|blocked
    Column("updated_at", BigInteger, nullable=False),
)

clusters = Table(
    "clusters",
    metadata,
    Column("cluster_id", String(20), primary_key=True),
    Column("token_salt", String(64), nullable=False),
    Column("token_hash", String(160), nullable=False),
    Column("type", String(16), nullable=False),  # standard | vending (others: code 220)
    Column("activated", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

kassas = Table(
    "kassas",
    metadata,
    Column("kassaid", String(20), primary_key=True),
    Column("token_salt", String(64), nullable=False),
    Column("token_hash", String(160), nullable=False),
    Column("type", String(16), nullable=False),  # standard | vending
    Column("activated", Boolean, nullable=False),
    Column("debug", Boolean, nullable=False),
    Column("kkt_id", Id, ForeignKey("kkts.id"), nullable=True),
    Column("cluster_id", String(20), ForeignKey("clusters.cluster_id"), nullable=True),
    Column("callback_url", Text, nullable=True),
    Column("callback_secret", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "cluster_id"),
)

requests = Table(
    "requests",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("nuid", String(23), nullable=False),
    Column("qnuid", String(23), nullable=False),
    Column("mode", String(8), nullable=False),  # kassa | cluster
    Column("kassaid", String(20), nullable=False),
    Column("cluster_id", String(20), nullable=True),
    Column("rid_scope", String(40), nullable=True),  # kassa:<id> | cluster:<id>; NULL: RID not recorded
    Column("rid", String(64), nullable=True),
    Column("receipt", Text, nullable=False),  # JSON of the checked receipt, wire form
    Column("receipt_hash", String(64), nullable=False),  # SHA-256 hex of the canonical JSON
    Column("check_type", Integer, nullable=False),  # tag 1054
    Column("debug", Boolean, nullable=False),
    Column("accepted_at", BigInteger, nullable=False),
    Column("status", Integer, nullable=False),  # 0 pending, 1 fiscalized, 2 failed, 3 debug
    Column("error_code", Integer, nullable=True),
    Column("error_text", Text, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", BigInteger, nullable=True),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", BigInteger, nullable=True),
    Column("kkt_id", Id, nullable=True),
    # True: the register in kkt_id is known to hold no document of this request. While it
    # is false after an attempt that may have reached that register, the request is in
    # doubt there and goes to no other register (processing/dispatch.py).
    Column("kkt_ruled_out", Boolean, nullable=False, server_default=false()),
    Column("fiscal_dt", BigInteger, nullable=True),
    Column("fd_number", BigInteger, nullable=True),
    Column("fiscal_sign", String(20), nullable=True),
    Column("fn_serial", String(32), nullable=True),
    Column("kkt_reg_number", String(32), nullable=True),
    Column("shift_number", Integer, nullable=True),
    Column("number_in_shift", Integer, nullable=True),
    Column("qr", Text, nullable=True),
    Column("finished_at", BigInteger, nullable=True),
    Column("order_label", String(256), nullable=True),  # the receipt's name_zakaz, for the search
    UniqueConstraint("nuid"),
    UniqueConstraint("rid_scope", "rid"),
    Index(None, "kassaid", "status"),
    # The cabinet: newest first within a kassa (keyset), the search by RID and order label.
    Index(None, "kassaid", "id"),
    Index(None, "rid"),
    Index(None, "order_label"),
)

#: When a request is due: its ``next_attempt_at``, or at once when it has none. The claim
#: selects and orders pending requests by this expression, which ``ix_requests_due``
#: indexes for pending rows only (a retry backlog costs a poll nothing).
DUE_AT = func.coalesce(requests.c.next_attempt_at, literal_column("0"))
PENDING_ROW = requests.c.status == literal_column("0")
Index("ix_requests_due", DUE_AT, sqlite_where=PENDING_ROW, postgresql_where=PENDING_ROW)

#: What happened to a request beyond its row: a register's answer or fault, a decision
#: taken (``processing/dispatch.py`` names the kinds). Read by the status, the logs and the
#: cabinet's timeline; written only off the fast path (retries, doubt, failover, requeue).
request_events = Table(
    "request_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("request_id", Id, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("kkt_id", Id, nullable=True),
    Column("detail", Text, nullable=True),
    Index("ix_request_events_request_id_id", "request_id", "id"),
)

#: The callback outbox: one row per ended request whose kassa has a callback URL, written
#: in the transaction that ends the request and delivered by the callback sender
#: (``processing/callbacks.py``) with retries.
callbacks = Table(
    "callbacks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("request_id", Id, ForeignKey("requests.id"), nullable=False, unique=True),
    Column("kassaid", String(20), nullable=False),
    Column("url", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("lease_until", BigInteger, nullable=True),
    Column("delivered_at", BigInteger, nullable=True),
    Column("gave_up_at", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
)

#: The cabinet's users. ``session_epoch`` changes with the password and when the user is
#: disabled: a session cookie signed under another epoch is refused.
users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("login", String(64), nullable=False),
    Column("password_hash", Text, nullable=False),  # Argon2id, PHC string
    Column("role", String(16), nullable=False),  # operator | merchant
    Column("disabled", Boolean, nullable=False, server_default=false()),
    Column("session_epoch", Integer, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("login"),
)

#: The kassas a merchant owns (its requests, its registers).
user_kassas = Table(
    "user_kassas",
    metadata,
    Column("user_id", Id, ForeignKey("users.id"), primary_key=True),
    Column("kassaid", String(20), ForeignKey("kassas.kassaid"), primary_key=True),
)

#: The clusters a merchant owns (and so the kassas attached to them).
user_clusters = Table(
    "user_clusters",
    metadata,
    Column("user_id", Id, ForeignKey("users.id"), primary_key=True),
    Column("cluster_id", String(20), ForeignKey("clusters.cluster_id"), primary_key=True),
)
