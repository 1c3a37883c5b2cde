# Over 400 lines: every read of the cabinet's pages, each short, kept together with the scope they share.
"""The cabinet's reads: requests newest first (keyset pagination), one request with its
timeline, kassas, clusters, registers and the overview figures.

Every function takes ``kassaids``: the kassas the viewer may see, or ``None`` for all (an
operator). A row outside that set is answered exactly as a row that does not exist.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    and_,
    func,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from kassagate.core.states import RequestStatus
from kassagate.storage.cabinet_today import TODAY_CAP, TodayCounts
from kassagate.storage.db import Database, utc_micros
from kassagate.storage.manage import requeue_failed_row
from kassagate.storage.request_ids import TIME_ORDER_MARGIN, first_id_at
from kassagate.storage.schema import callbacks, clusters, kassas, kkts, request_events, requests

PAGE_SIZE = 50
#: At most this many events of one request are shown (the newest are dropped beyond it).
MAX_EVENTS = 200
#: Ids are 64-bit: a larger number in a URL names no row.
MAX_ID = 2**63

_LIST_COLUMNS = (
    requests.c.id,
    requests.c.nuid,
    requests.c.accepted_at,
    requests.c.kassaid,
    requests.c.cluster_id,
    requests.c.rid,
    requests.c.order_label,
    requests.c.check_type,
    requests.c.status,
    requests.c.debug,
    requests.c.fd_number,
    requests.c.error_code,
    requests.c.error_text,
    requests.c.receipt,
)


@dataclass(frozen=True, slots=True)
class RequestFilter:
    kassa: str | None = None
    status: int | None = None
    since: int | None = None  # µs, inclusive
    until: int | None = None  # µs, exclusive
    search: str | None = None  # RID, nuid or order label, exactly


@contextlib.asynccontextmanager
async def reading(db: Database) -> AsyncIterator[AsyncConnection]:
    """A connection for the cabinet's reads. On PostgreSQL every statement is planned for
    its values (``plan_cache_mode``): asyncpg prepares each statement, and after five runs
    PostgreSQL may keep a plan made for no value in particular, such as walking the whole
    primary key backwards for "the newest failed request of kassa $1" (seconds with a
    million requests) where the values lead to the index of that kassa (a millisecond)."""
    async with db.engine.connect() as conn:
        if not db.is_sqlite:
            await conn.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        yield conn


def _scope(kassaids: Collection[str] | None) -> Any:
    if kassaids is None:
        return None
    return requests.c.kassaid.in_(sorted(kassaids)) if kassaids else requests.c.id < 0


async def list_requests(
    db: Database,
    kassaids: Collection[str] | None,
    flt: RequestFilter,
    *,
    before_id: int | None = None,
    after_id: int | None = None,
    limit: int = PAGE_SIZE,
) -> list[dict[str, Any]]:
    """A page of requests, newest first: those with ``id < before_id`` (keyset), or the
    newest ones with ``id > after_id`` (the rows that arrived since a page was shown)."""
    conds = [c for c in (_scope(kassaids),) if c is not None]
    if flt.kassa is not None:
        conds.append(requests.c.kassaid == flt.kassa)
    if flt.status is not None:
        conds.append(requests.c.status == flt.status)
    if flt.since is not None:
        conds += [requests.c.id >= await first_id_at(db, flt.since), requests.c.accepted_at >= flt.since]
    if flt.until is not None:
        until_id = await first_id_at(db, flt.until + 2 * TIME_ORDER_MARGIN)
        conds += [requests.c.id < until_id, requests.c.accepted_at < flt.until]
    if flt.search:
        conds.append(
            or_(requests.c.nuid == flt.search, requests.c.rid == flt.search, requests.c.order_label == flt.search)
        )
    if before_id is not None:
        conds.append(requests.c.id < before_id)
    if after_id is not None:
        conds.append(requests.c.id > after_id)
    q = select(*_LIST_COLUMNS).where(and_(True, *conds)).order_by(requests.c.id.desc()).limit(limit)
    async with reading(db) as conn:
        return [dict(r) for r in (await conn.execute(q)).mappings()]


async def get_request(db: Database, kassaids: Collection[str] | None, request_id: int) -> dict[str, Any] | None:
    """One request (every column), or ``None`` when it does not exist or is not visible."""
    if not 0 < request_id < MAX_ID:
        return None
    conds = [requests.c.id == request_id]
    scope = _scope(kassaids)
    if scope is not None:
        conds.append(scope)
    async with reading(db) as conn:
        row = (await conn.execute(select(requests).where(*conds))).mappings().first()
    return None if row is None else dict(row)


async def request_events_of(db: Database, request_id: int, limit: int = MAX_EVENTS) -> list[dict[str, Any]]:
    """The request's recorded events, oldest first (at most ``limit``)."""
    q = (
        select(request_events)
        .where(request_events.c.request_id == request_id)
        .order_by(request_events.c.id)
        .limit(limit)
    )
    async with reading(db) as conn:
        return [dict(r) for r in (await conn.execute(q)).mappings()]


async def request_callback(db: Database, request_id: int) -> dict[str, Any] | None:
    """The request's callback delivery (URL not included), or ``None`` when it has none."""
    q = select(
        callbacks.c.attempts,
        callbacks.c.next_attempt_at,
        callbacks.c.delivered_at,
        callbacks.c.gave_up_at,
        callbacks.c.last_error,
        callbacks.c.created_at,
    ).where(callbacks.c.request_id == request_id)
    async with reading(db) as conn:
        row = (await conn.execute(q)).mappings().first()
    return None if row is None else dict(row)


async def all_kassaids(db: Database) -> list[str]:
    async with reading(db) as conn:
        return [r[0] for r in (await conn.execute(select(kassas.c.kassaid).order_by(kassas.c.kassaid))).all()]


async def list_kassas(
    db: Database, kassaids: Collection[str] | None, *, today_from: int, counts: TodayCounts | None = None,
    now: int | None = None,
) -> list[dict[str, Any]]:
    """Kassas with their register, receipts since ``today_from`` (µs; kept up by ``counts``
    between views, see :mod:`kassagate.storage.cabinet_today`) and last error. Token
    hashes, callback secrets and the register's merchant ID are not read."""
    q = select(
        kassas.c.kassaid,
        kassas.c.type,
        kassas.c.activated,
        kassas.c.debug,
        kassas.c.kkt_id,
        kassas.c.cluster_id,
        kassas.c.created_at,
        kkts.c.kind.label("kkt_kind"),
        kkts.c.fn_serial,
        kkts.c.kkt_reg_number,
        kkts.c.fn_state,
    ).select_from(kassas.outerjoin(kkts, kassas.c.kkt_id == kkts.c.id))
    if kassaids is not None:
        q = q.where(kassas.c.kassaid.in_(sorted(kassaids)))
    q = q.order_by(kassas.c.kassaid)
    async with reading(db) as conn:
        rows = [dict(r) for r in (await conn.execute(q)).mappings()]
    today = await (counts or TodayCounts(db)).counts(
        (r["kassaid"] for r in rows), today_from=today_from, now=utc_micros() if now is None else now
    )
    # the newest failure of each kassa, 50 kassas to a statement (each part from the index (kassaid, status))
    last: dict[str, dict[str, Any]] = {}
    async with reading(db) as conn:
        for at in range(0, len(rows), 50):
            parts = [
                select(requests.c.kassaid, requests.c.error_code, requests.c.error_text, requests.c.accepted_at)
                .where(requests.c.kassaid == r["kassaid"], requests.c.status == RequestStatus.FAILED)
                .order_by(requests.c.id.desc())
                .limit(1)
                .subquery()
                .select()
                for r in rows[at : at + 50]
            ]
            for m in (await conn.execute(union_all(*parts))).mappings():
                last[m["kassaid"]] = {k: m[k] for k in ("error_code", "error_text", "accepted_at")}
    for r in rows:
        r["today"] = today[r["kassaid"]]
        r["today_capped"] = r["today"] >= TODAY_CAP
        r["last_error"] = last.get(r["kassaid"])
    return rows


async def list_clusters(
    db: Database, kassaids: Collection[str] | None, owned: Collection[str] = ()
) -> list[dict[str, Any]]:
    """Clusters with their attached kassas: all of them for an operator (``kassaids`` is
    ``None``), for a merchant those it ``owned`` and those of its kassas."""
    async with reading(db) as conn:
        rows = [
            dict(r)
            for r in (
                await conn.execute(
                    select(clusters.c.cluster_id, clusters.c.type, clusters.c.activated).order_by(clusters.c.cluster_id)
                )
            ).mappings()
        ]
        members = (
            await conn.execute(select(kassas.c.cluster_id, kassas.c.kassaid).where(kassas.c.cluster_id.is_not(None)))
        ).all()
    out = []
    for r in rows:
        r["kassas"] = sorted(k for c, k in members if c == r["cluster_id"])
        if kassaids is None or r["cluster_id"] in owned or set(r["kassas"]) & set(kassaids):
            out.append(r)
    return out


async def list_registers(db: Database, kassaids: Collection[str] | None) -> list[dict[str, Any]]:
    """Registers (visible through their kassas), without merchant IDs or URLs' secrets."""
    q = select(
        kkts.c.id,
        kkts.c.kind,
        kkts.c.journal_path,
        kkts.c.fn_serial,
        kkts.c.kkt_reg_number,
        kkts.c.fn_state,
        kkts.c.updated_at,
    ).order_by(kkts.c.id)
    async with reading(db) as conn:
        rows = [dict(r) for r in (await conn.execute(q)).mappings()]
        q_bound = select(kassas.c.kkt_id, kassas.c.kassaid).where(kassas.c.kkt_id.is_not(None))
        bound = (await conn.execute(q_bound)).all()
    out = []
    for r in rows:
        r["kassas"] = sorted(k for kid, k in bound if kid == r["id"])
        if kassaids is None or set(r["kassas"]) & set(kassaids):
            out.append(r)
    return out


async def get_register(db: Database, kassaids: Collection[str] | None, kkt_id: int) -> dict[str, Any] | None:
    """One register (as in :func:`list_registers`), or ``None`` when it does not exist or is not visible."""
    for r in await list_registers(db, kassaids):
        if r["id"] == kkt_id:
            return r
    return None


async def overview(db: Database, kassaids: Collection[str] | None, *, now: int) -> dict[str, int]:
    """Receipts accepted in the last minute, requests pending, failures in the last hour."""
    scope = _scope(kassaids)

    def count(*conds: Any) -> Any:
        return select(func.count()).select_from(requests).where(*conds, *([scope] if scope is not None else []))

    minute_ago = now - 60_000_000
    minute_id = await first_id_at(db, minute_ago)
    # the failures through the index (kassaid, status), kassa by kassa: no index leads to
    # "failed" alone, and a scan of every request would read them all
    failed_scope = requests.c.kassaid.in_(sorted(kassaids) if kassaids is not None else await all_kassaids(db))
    async with reading(db) as conn:
        last_minute = (
            await conn.execute(count(requests.c.id >= minute_id, requests.c.accepted_at >= minute_ago))
        ).scalar_one()
        pending = (await conn.execute(count(requests.c.status == RequestStatus.PENDING))).scalar_one()
        failed = (
            await conn.execute(
                count(failed_scope, requests.c.status == RequestStatus.FAILED,
                      requests.c.finished_at >= now - 3_600_000_000)
            )
        ).scalar_one()
    return {"last_minute": int(last_minute), "pending": int(pending), "failed_hour": int(failed)}


async def register_endpoints(db: Database, kkt_ids: Collection[int]) -> dict[int, tuple[str | None, str | None]]:
    """``{kkt id: (url, merchant id)}``, to ask a remote register for its state. Never
    rendered: the merchant ID signs the register's requests."""
    if not kkt_ids:
        return {}
    q = select(kkts.c.id, kkts.c.url, kkts.c.merchant_id).where(kkts.c.id.in_(sorted(kkt_ids)))
    async with reading(db) as conn:
        return {int(i): (u, m) for i, u, m in (await conn.execute(q)).all()}


async def requeue_failed(db: Database, kassaids: Collection[str] | None, request_id: int, *, now: int,
                         who: str) -> bool:
    """Put a failed request back in the queue; ``False`` when it is not (or no longer) a
    visible failed request. The same requeue as the command line's
    (``storage.manage.requeue_failed_row``: fiscalized once at most), limited to what
    ``kassaids`` may see."""
    if not 0 < request_id < MAX_ID:
        return False
    conds: list[Any] = []
    scope = _scope(kassaids)
    if scope is not None:
        conds.append(scope)
    async with db.write_connection() as conn:
        kkt_id = (await conn.execute(select(requests.c.kkt_id).where(requests.c.id == request_id))).scalar()
        return await requeue_failed_row(conn, request_id, now=now, kkt_id=kkt_id, detail=f"from the cabinet by {who}",
                                        guard=conds)


async def resend_callback(db: Database, kassaids: Collection[str] | None, request_id: int, *, now: int) -> bool:
    """Deliver the request's callback again (a fresh series of attempts); ``False`` when the
    request is not visible, has no callback, or its delivery is still under way."""
    if await get_request(db, kassaids, request_id) is None:
        return False
    async with db.write_connection() as conn:
        res = await conn.execute(
            update(callbacks)
            .where(
                callbacks.c.request_id == request_id,
                or_(callbacks.c.delivered_at.is_not(None), callbacks.c.gave_up_at.is_not(None)),
            )
            .values(delivered_at=None, gave_up_at=None, attempts=0, next_attempt_at=now, last_error=None,
                    lease_until=None)
        )
        return res.rowcount == 1
