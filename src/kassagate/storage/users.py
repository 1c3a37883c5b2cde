"""The cabinet's users and what a merchant owns (``users``, ``user_kassas``, ``user_clusters``).

The password hash is made and checked by the caller (``kassagate.cabinet.auth``): this
module only stores the PHC string.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import delete, insert, select, union, update

from kassagate.storage.db import Database, utc_micros
from kassagate.storage.repos import DuplicateError, NotFoundError
from kassagate.storage.schema import clusters, kassas, user_clusters, user_kassas, users

Role = Literal["operator", "merchant"]
ROLES: tuple[str, ...] = ("operator", "merchant")


@dataclass(frozen=True, slots=True)
class User:
    id: int
    login: str
    password_hash: str
    role: str
    disabled: bool
    session_epoch: int
    kassas: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"


def _user(row: Any, kassa_ids: Iterable[str] = (), cluster_ids: Iterable[str] = ()) -> User:
    return User(
        id=int(row["id"]),
        login=row["login"],
        password_hash=row["password_hash"],
        role=row["role"],
        disabled=bool(row["disabled"]),
        session_epoch=int(row["session_epoch"]),
        kassas=tuple(sorted(kassa_ids)),
        clusters=tuple(sorted(cluster_ids)),
    )


class Users:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self,
        login: str,
        *,
        password_hash: str,
        role: Role,
        kassa_ids: Iterable[str] = (),
        cluster_ids: Iterable[str] = (),
    ) -> int:
        """Create a user; a merchant owns ``kassa_ids`` and ``cluster_ids`` (which must exist)."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        kassa_ids, cluster_ids = sorted(set(kassa_ids)), sorted(set(cluster_ids))
        async with self.db.write_connection() as conn:
            if (await conn.execute(select(users.c.id).where(users.c.login == login))).first() is not None:
                raise DuplicateError(f"user {login} already exists")
            for kid in kassa_ids:
                if (await conn.execute(select(kassas.c.kassaid).where(kassas.c.kassaid == kid))).first() is None:
                    raise NotFoundError(f"no kassa {kid}")
            for cid in cluster_ids:
                found = await conn.execute(select(clusters.c.cluster_id).where(clusters.c.cluster_id == cid))
                if found.first() is None:
                    raise NotFoundError(f"no cluster {cid}")
            res = await conn.execute(
                insert(users)
                .values(login=login, password_hash=password_hash, role=role, disabled=False, session_epoch=0,
                        created_at=utc_micros())
                .returning(users.c.id)
            )
            user_id = int(res.scalar_one())
            if kassa_ids:
                await conn.execute(insert(user_kassas), [{"user_id": user_id, "kassaid": k} for k in kassa_ids])
            if cluster_ids:
                await conn.execute(insert(user_clusters), [{"user_id": user_id, "cluster_id": c} for c in cluster_ids])
        return user_id

    async def _load(self, where: Any) -> User | None:
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(users).where(where))).mappings().first()
            if row is None:
                return None
            uid = row["id"]
            ks = (await conn.execute(select(user_kassas.c.kassaid).where(user_kassas.c.user_id == uid))).scalars()
            kassa_ids = list(ks)
            q_cs = select(user_clusters.c.cluster_id).where(user_clusters.c.user_id == uid)
            cs = (await conn.execute(q_cs)).scalars()
            return _user(row, kassa_ids, list(cs))

    async def get(self, user_id: int) -> User | None:
        return await self._load(users.c.id == user_id)

    async def by_login(self, login: str) -> User | None:
        return await self._load(users.c.login == login)

    async def list(self) -> list[User]:
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(select(users).order_by(users.c.login))).mappings().all()
            links = (await conn.execute(select(user_kassas))).all()
            clinks = (await conn.execute(select(user_clusters))).all()
        return [
            _user(r, [k for u, k in links if u == r["id"]], [c for u, c in clinks if u == r["id"]]) for r in rows
        ]

    async def set_password(self, login: str, password_hash: str) -> None:
        """A new password; the user's open sessions end."""
        await self._update(login, password_hash=password_hash, disabled=False)

    async def disable(self, login: str) -> None:
        """The user can no longer sign in; its open sessions end."""
        await self._update(login, disabled=True)

    async def _update(self, login: str, **values: Any) -> None:
        async with self.db.write_connection() as conn:
            res = await conn.execute(
                update(users)
                .where(users.c.login == login)
                .values(**values, session_epoch=users.c.session_epoch + 1)
            )
            if res.rowcount == 0:
                raise NotFoundError(f"no user {login}")

    async def grant_kassa(self, user_id: int, kassaid: str) -> None:
        """The merchant owns ``kassaid`` (idempotent)."""
        async with self.db.write_connection() as conn:
            await conn.execute(
                delete(user_kassas).where(user_kassas.c.user_id == user_id, user_kassas.c.kassaid == kassaid)
            )
            await conn.execute(insert(user_kassas).values(user_id=user_id, kassaid=kassaid))

    async def grant_cluster(self, user_id: int, cluster_id: str) -> None:
        """The merchant owns ``cluster_id`` (idempotent)."""
        async with self.db.write_connection() as conn:
            link = (user_clusters.c.user_id == user_id) & (user_clusters.c.cluster_id == cluster_id)
            await conn.execute(delete(user_clusters).where(link))
            await conn.execute(insert(user_clusters).values(user_id=user_id, cluster_id=cluster_id))

    async def visible_kassas(self, user: User) -> frozenset[str] | None:
        """The kassas whose requests and registers ``user`` sees: ``None`` for an operator
        (all of them); for a merchant, its own kassas and those attached to its clusters."""
        if user.is_operator:
            return None
        async with self.db.engine.connect() as conn:
            q = union(
                select(user_kassas.c.kassaid).where(user_kassas.c.user_id == user.id),
                select(kassas.c.kassaid)
                .join(user_clusters, user_clusters.c.cluster_id == kassas.c.cluster_id)
                .where(user_clusters.c.user_id == user.id),
            )
            return frozenset((await conn.execute(q)).scalars())
