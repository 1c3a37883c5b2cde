"""The operator's queries and commands (``kassagate kassa list``, ``requests requeue``, ...).

Over 400 lines: one short query per operator command, grouped by kassas, clusters, requests.

Reads give plain dictionaries with no secret in them: no token, token hash, merchant ID or
callback secret is ever selected here. Writes are guarded so that a command racing a
running server cannot undo its work: a kassa is deleted only while no request names it, a
request is requeued only while it is failed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kassagate.core.states import RequestStatus
from kassagate.storage.db import Database, utc_micros
from kassagate.storage.repos import NotFoundError
from kassagate.storage.schema import callbacks, clusters, kassas, kkts, request_events, requests

STATUS_NAMES: dict[int, str] = {int(s): s.name.lower() for s in RequestStatus}
STATUS_BY_NAME = {name: code for code, name in STATUS_NAMES.items()}


class RefusedError(ValueError):
    """The command is refused in the row's present state; the message says why."""


# -- kassas ------------------------------------------------------------------------------


def _request_counts(where: Any) -> Any:
    return (
        select(requests.c.kassaid, requests.c.status, func.count().label("n"))
        .where(where)
        .group_by(requests.c.kassaid, requests.c.status)
    )


def _counts_by_kassa(rows: Any) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for kassaid, status, n in rows:
        out.setdefault(kassaid, {})[STATUS_NAMES.get(status, str(status))] = int(n)
    return out


_KASSA_COLUMNS = (
    kassas.c.kassaid,
    kassas.c.type,
    kassas.c.activated,
    kassas.c.debug,
    kassas.c.cluster_id,
    kassas.c.kkt_id,
    kassas.c.callback_url.is_not(None).label("callback"),
    kassas.c.created_at,
    kkts.c.kind.label("kkt_kind"),
    kkts.c.fn_state,
    kkts.c.fn_serial,
    kkts.c.kkt_reg_number,
)


def _kassa_dict(row: Any, counts: dict[str, dict[str, int]]) -> dict[str, Any]:
    d = dict(row)
    for key in ("activated", "debug", "callback"):
        d[key] = bool(d[key])
    d["requests"] = counts.get(d["kassaid"], {})
    return d


async def list_kassas(db: Database, *, cluster_id: str | None = None) -> list[dict[str, Any]]:
    """Every kassa (of one cluster when ``cluster_id``), with its register and its requests
    counted by status."""
    q = select(*_KASSA_COLUMNS).select_from(kassas.outerjoin(kkts, kassas.c.kkt_id == kkts.c.id))
    cq = _request_counts(requests.c.kassaid.is_not(None))
    if cluster_id is not None:
        q = q.where(kassas.c.cluster_id == cluster_id)
        cq = _request_counts(requests.c.kassaid.in_(select(kassas.c.kassaid).where(kassas.c.cluster_id == cluster_id)))
    async with db.engine.connect() as conn:
        rows = (await conn.execute(q.order_by(kassas.c.kassaid))).mappings().all()
        counts = _counts_by_kassa(await conn.execute(cq))
    return [_kassa_dict(r, counts) for r in rows]


async def get_kassa(db: Database, kassaid: str) -> dict[str, Any]:
    q = (
        select(*_KASSA_COLUMNS)
        .select_from(kassas.outerjoin(kkts, kassas.c.kkt_id == kkts.c.id))
        .where(kassas.c.kassaid == kassaid)
    )
    async with db.engine.connect() as conn:
        row = (await conn.execute(q)).mappings().first()
        if row is None:
            raise NotFoundError(f"no kassa {kassaid}")
        counts = _counts_by_kassa(await conn.execute(_request_counts(requests.c.kassaid == kassaid)))
        last = (
            await conn.execute(select(func.max(requests.c.accepted_at)).where(requests.c.kassaid == kassaid))
        ).scalar()
    d = _kassa_dict(row, counts)
    d["last_request_at"] = last
    return d


async def _set_activated(db: Database, key: Any, ident: str, activated: bool, missing: str) -> bool:
    """Set ``activated`` of the row whose key column ``key`` is ``ident``; whether it changed
    (:class:`NotFoundError` with ``missing`` when there is no such row)."""
    async with db.write_connection() as conn:
        found = (await conn.execute(select(key.table.c.activated).where(key == ident))).first()
        if found is None:
            raise NotFoundError(missing)
        if bool(found[0]) == activated:
            return False
        await conn.execute(update(key.table).where(key == ident).values(activated=activated))
    return True


async def set_kassa_activated(db: Database, kassaid: str, activated: bool) -> bool:
    """Enable or disable a kassa; returns whether it changed."""
    return await _set_activated(db, kassas.c.kassaid, kassaid, activated, f"no kassa {kassaid}")


@dataclass(frozen=True, slots=True)
class DeletedKassa:
    kassaid: str
    #: The register row deleted with it (bound to no other kassa), and its journal (the
    #: file is not removed: it is a fiscal record).
    kkt_id: int | None
    journal_path: str | None


async def delete_kassa(db: Database, kassaid: str) -> DeletedKassa:
    """Delete a kassa that has no request, and its register row when no other kassa and no
    request names it. In one transaction; refused (:class:`RefusedError`) when a request
    names the kassa."""
    async with db.write_connection() as conn:
        row = (await conn.execute(select(kassas.c.kkt_id).where(kassas.c.kassaid == kassaid))).first()
        if row is None:
            raise NotFoundError(f"no kassa {kassaid}")
        has_requests = exists().where(requests.c.kassaid == kassaid)
        res = await conn.execute(delete(kassas).where(kassas.c.kassaid == kassaid, ~has_requests))
        if res.rowcount == 0:
            n = (await conn.execute(select(func.count()).where(requests.c.kassaid == kassaid))).scalar_one()
            raise RefusedError(f"kassa {kassaid} has {n} request(s): disable it instead (kassa disable)")
        kkt_id = row[0]
        journal: str | None = None
        if kkt_id is not None:
            unused = and_(
                kkts.c.id == kkt_id,
                ~exists().where(kassas.c.kkt_id == kkt_id),
                ~exists().where(requests.c.kkt_id == kkt_id),
            )
            journal = (await conn.execute(select(kkts.c.journal_path).where(kkts.c.id == kkt_id))).scalar()
            if (await conn.execute(delete(kkts).where(unused))).rowcount == 0:
                kkt_id, journal = None, None
    return DeletedKassa(kassaid, kkt_id, journal)


# -- clusters ----------------------------------------------------------------------------


def _members() -> Any:
    return select(func.count()).where(kassas.c.cluster_id == clusters.c.cluster_id).scalar_subquery()


async def list_clusters(db: Database) -> list[dict[str, Any]]:
    q = select(
        clusters.c.cluster_id, clusters.c.type, clusters.c.activated, clusters.c.created_at,
        _members().label("kassas"),
    ).order_by(clusters.c.cluster_id)
    async with db.engine.connect() as conn:
        rows = (await conn.execute(q)).mappings().all()
    return [dict(r, activated=bool(r["activated"])) for r in rows]


async def get_cluster(db: Database, cluster_id: str) -> dict[str, Any]:
    q = select(clusters.c.cluster_id, clusters.c.type, clusters.c.activated, clusters.c.created_at).where(
        clusters.c.cluster_id == cluster_id
    )
    async with db.engine.connect() as conn:
        row = (await conn.execute(q)).mappings().first()
        if row is None:
            raise NotFoundError(f"no cluster {cluster_id}")
        counts = (
            await conn.execute(
                select(requests.c.status, func.count())
                .where(requests.c.cluster_id == cluster_id)
                .group_by(requests.c.status)
            )
        ).all()
    d = dict(row, activated=bool(row["activated"]))
    d["requests"] = {STATUS_NAMES.get(s, str(s)): int(n) for s, n in counts}
    d["members"] = await list_kassas(db, cluster_id=cluster_id)
    return d


async def set_cluster_activated(db: Database, cluster_id: str, activated: bool) -> bool:
    """Enable or disable a cluster; returns whether it changed."""
    return await _set_activated(db, clusters.c.cluster_id, cluster_id, activated, f"no cluster {cluster_id}")


async def delete_cluster(db: Database, cluster_id: str) -> list[str]:
    """Delete a cluster no request names; its kassas are detached (they stay, usable on
    their own). Returns the detached kassas. Refused when a request names the cluster."""
    async with db.write_connection() as conn:
        found = await conn.execute(select(clusters.c.cluster_id).where(clusters.c.cluster_id == cluster_id))
        if found.first() is None:
            raise NotFoundError(f"no cluster {cluster_id}")
        n = (await conn.execute(select(func.count()).where(requests.c.cluster_id == cluster_id))).scalar_one()
        if n:
            raise RefusedError(f"cluster {cluster_id} has {n} request(s): disable it instead (cluster disable)")
        members = [
            r[0]
            for r in await conn.execute(
                select(kassas.c.kassaid).where(kassas.c.cluster_id == cluster_id).order_by(kassas.c.kassaid)
            )
        ]
        await conn.execute(update(kassas).where(kassas.c.cluster_id == cluster_id).values(cluster_id=None))
        res = await conn.execute(
            delete(clusters).where(
                clusters.c.cluster_id == cluster_id, ~exists().where(requests.c.cluster_id == cluster_id)
            )
        )
        if res.rowcount == 0:
            raise RefusedError(f"cluster {cluster_id} received a request meanwhile: disable it instead")
    return members


# -- registers ---------------------------------------------------------------------------


async def list_kkts(db: Database, kkt_id: int | None = None) -> list[dict[str, Any]]:
    """Registers (no merchant ID), each with the kassas bound to it."""
    q = select(
        kkts.c.id, kkts.c.kind, kkts.c.url, kkts.c.journal_path, kkts.c.fn_serial, kkts.c.kkt_reg_number,
        kkts.c.fn_state, kkts.c.updated_at,
    ).order_by(kkts.c.id)
    bound = select(kassas.c.kkt_id, kassas.c.kassaid).where(kassas.c.kkt_id.is_not(None)).order_by(kassas.c.kassaid)
    if kkt_id is not None:
        q = q.where(kkts.c.id == kkt_id)
        bound = bound.where(kassas.c.kkt_id == kkt_id)
    async with db.engine.connect() as conn:
        rows = (await conn.execute(q)).mappings().all()
        by_kkt: dict[int, list[str]] = {}
        for k, kassaid in await conn.execute(bound):
            by_kkt.setdefault(int(k), []).append(kassaid)
    return [dict(r, kassas=by_kkt.get(int(r["id"]), [])) for r in rows]


async def kkt_merchant_id(db: Database, kkt_id: int) -> str | None:
    """The register's merchant ID, to talk to it (never to show)."""
    async with db.engine.connect() as conn:
        return (await conn.execute(select(kkts.c.merchant_id).where(kkts.c.id == kkt_id))).scalar()


async def journal_paths(db: Database) -> list[str]:
    """The journal files of the virtual registers, as stored (relative to the data dir)."""
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            select(kkts.c.journal_path).where(kkts.c.journal_path.is_not(None)).order_by(kkts.c.id)
        )
        return [r[0] for r in rows]


# -- requests ----------------------------------------------------------------------------

_LIST_COLUMNS = (
    requests.c.id,
    requests.c.nuid,
    requests.c.qnuid,
    requests.c.mode,
    requests.c.kassaid,
    requests.c.cluster_id,
    requests.c.rid,
    requests.c.check_type,
    requests.c.debug,
    requests.c.status,
    requests.c.error_code,
    requests.c.attempts,
    requests.c.accepted_at,
    requests.c.finished_at,
    requests.c.kkt_id,
    requests.c.fd_number,
)


def _request_dict(row: Any) -> dict[str, Any]:
    d = dict(row)
    d["status_name"] = STATUS_NAMES.get(d["status"], str(d["status"]))
    for key in ("debug", "kkt_ruled_out"):
        if key in d and d[key] is not None:
            d[key] = bool(d[key])
    return d


async def list_requests(
    db: Database,
    *,
    kassaid: str | None = None,
    cluster_id: str | None = None,
    status: int | None = None,
    since_us: int | None = None,
    until_us: int | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Requests, newest first, filtered by kassa, cluster, status and acceptance time."""
    q = select(*_LIST_COLUMNS)
    if kassaid is not None:
        q = q.where(requests.c.kassaid == kassaid)
    if cluster_id is not None:
        q = q.where(requests.c.cluster_id == cluster_id)
    if status is not None:
        q = q.where(requests.c.status == status)
    if since_us is not None:
        q = q.where(requests.c.accepted_at >= since_us)
    if until_us is not None:
        q = q.where(requests.c.accepted_at < until_us)
    async with db.engine.connect() as conn:
        rows = (await conn.execute(q.order_by(requests.c.id.desc()).limit(limit))).mappings().all()
    return [_request_dict(r) for r in rows]


#: Receipt fields holding a buyer's contact: masked in every output.
_CONTACT_KEYS = frozenset({"client_email", "client_phone"})


def mask_receipt(value: Any) -> Any:
    """The stored receipt JSON with buyers' contacts and any token replaced by ``***``."""
    if isinstance(value, dict):
        return {
            k: ("***" if v and (k in _CONTACT_KEYS or "token" in k) else mask_receipt(v)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_receipt(v) for v in value]
    return value


async def find_requests(db: Database, *, nuid: str | None = None, rid: str | None = None,
                        kassaid: str | None = None) -> list[dict[str, Any]]:
    """Whole requests (receipt masked, timeline included) by ``nuid``, or by ``rid``
    (of every kassa and cluster, or of ``kassaid``'s)."""
    cols = [c for c in requests.c if c.name not in ("receipt", "receipt_hash", "lease_owner")]
    q = select(*cols, requests.c.receipt)
    if nuid is not None:
        q = q.where(requests.c.nuid == nuid)
    if rid is not None:
        q = q.where(requests.c.rid == rid)
    if kassaid is not None:
        q = q.where(requests.c.kassaid == kassaid)
    async with db.engine.connect() as conn:
        rows = (await conn.execute(q.order_by(requests.c.id))).mappings().all()
        out = []
        for r in rows:
            d = _request_dict(r)
            try:
                d["receipt"] = mask_receipt(json.loads(d["receipt"]))
            except ValueError:
                d["receipt"] = None
            events = await conn.execute(
                select(request_events.c.at, request_events.c.kind, request_events.c.kkt_id, request_events.c.detail)
                .where(request_events.c.request_id == d["id"])
                .order_by(request_events.c.id)
            )
            d["events"] = [dict(e) for e in events.mappings()]
            out.append(d)
    return out


async def requeue_failed_row(
    conn: AsyncConnection, request_id: int, *, now: int, kkt_id: int | None, detail: str, guard: Sequence[Any] = ()
) -> bool:
    """In ``conn``'s transaction: move a failed request back to the queue; False when it is
    not (or no longer) failed, or ``guard`` (more conditions on ``requests``) excludes it.

    The UPDATE is guarded by ``status = 2``: of two concurrent requeues one wins. Its
    register (``kkt_id``) and whether that register is known to hold no document of it
    (``kkt_ruled_out``) are kept; ``attempts`` is set to 1, so the next claim counts 2: a
    request whose register was not ruled out is then *in doubt* there
    (``processing/dispatch.py``) and that register is asked for the document before
    anything is sent, which keeps the request fiscalized at most once; the retry budget
    starts again. The error and end time are cleared, the failure's callback row removed,
    and a ``requeued`` event written."""
    res = await conn.execute(
        update(requests)
        .where(requests.c.id == request_id, requests.c.status == int(RequestStatus.FAILED), *guard)
        .values(status=int(RequestStatus.PENDING), error_code=None, error_text=None, finished_at=None,
                next_attempt_at=now, lease_owner=None, lease_until=None, attempts=1)
    )
    if res.rowcount != 1:
        return False
    await conn.execute(delete(callbacks).where(callbacks.c.request_id == request_id))
    await conn.execute(
        insert(request_events).values(request_id=request_id, at=now, kind="requeued", kkt_id=kkt_id, detail=detail)
    )
    return True


@dataclass(frozen=True, slots=True)
class Requeued:
    id: int
    nuid: str
    kkt_id: int | None
    kkt_ruled_out: bool


async def requeue_request(db: Database, nuid: str, *, note: str = "by the operator") -> Requeued:
    """Put a failed request back in the queue, once.

    Only a failed request (status 2) moves, with an UPDATE guarded by ``status = 2`` (two
    concurrent requeues: one wins, the other is refused). Its register (``kkt_id``) and
    whether that register is known to hold no document of it (``kkt_ruled_out``) are kept;
    ``attempts`` is set to 1, so the next claim counts 2: a request whose register was not
    ruled out is then *in doubt* there (``processing/dispatch.py``) and that register is
    asked for the document before anything is sent, which keeps the request fiscalized at
    most once; the retry budget starts again. The error and end time are cleared. A
    ``requeued`` event is written in the same transaction.
    """
    now = utc_micros()
    async with db.write_connection() as conn:
        row = (
            await conn.execute(
                select(requests.c.id, requests.c.status, requests.c.kkt_id, requests.c.kkt_ruled_out,
                       requests.c.error_code).where(requests.c.nuid == nuid)
            )
        ).first()
        if row is None:
            raise NotFoundError(f"no request with nuid {nuid}")
        request_id, status, kkt_id, ruled_out, error_code = row
        if status != RequestStatus.FAILED:
            raise RefusedError(
                f"request {nuid} is {STATUS_NAMES.get(status, status)}: only a failed request can be requeued"
            )
        if not await requeue_failed_row(conn, request_id, now=now, kkt_id=kkt_id,
                                        detail=f"{note}; it had failed with code {error_code}"):
            raise RefusedError(f"request {nuid} changed meanwhile: it is no longer failed")
    return Requeued(int(request_id), nuid, kkt_id, bool(ruled_out))
