"""Provisioning: kassas with their registers, clusters, tokens.

One service for everything that creates accounts: ``kassagate kassa add`` and ``cluster
add``, the cabinet's create and new-token buttons, and ``serve --demo``. A kassa is
created on a new virtual register (registered or not), on a remote register, or on none;
a virtual register's row is stored only once its journal exists, so that processing never
meets a register it cannot open. Tokens are stored as HMACs under the installation's token
key (``storage/tokens.py``); the service returns a new token to its caller, which shows it
once and keeps it nowhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from kassagate.cashbox.virtual import create_register, new_merchant_id
from kassagate.config import Settings
from kassagate.core.states import ACCOUNT_TYPES, FN_STATES
from kassagate.storage.db import Database, open_database
from kassagate.storage.provisioning import Journal, add_virtual_kkt
from kassagate.storage.repos import Accounts, DuplicateError, NotFoundError
from kassagate.storage.tokens import new_token

__all__ = [
    "KKT_CHOICES",
    "DuplicateError",
    "NewKassa",
    "NotFoundError",
    "Provisioning",
    "ProvisioningError",
]

#: ``kkt`` of :meth:`Provisioning.add_kassa` besides a register's URL.
KKT_CHOICES = ("virtual", "unregistered", "none")


class ProvisioningError(ValueError):
    """The request cannot be carried out as given (a register URL without a merchant ID …)."""


@dataclass(frozen=True, slots=True)
class NewKassa:
    kassaid: str
    kkt_id: int | None
    #: The register in words, for the person who created it (no merchant ID, no URL path).
    register: str


def journal_name(kkt_id: int) -> str:
    """A virtual register's journal, relative to the data dir."""
    return f"registers/kkt-{kkt_id}.sqlite3"


class Provisioning:
    """Accounts on ``db``; virtual registers' journals under ``data_dir``."""

    def __init__(self, db: Database, data_dir: Path, token_key: bytes) -> None:
        self.db = db
        self.data_dir = Path(data_dir)
        self.accounts = Accounts(db, token_key)

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, settings: Settings) -> AsyncIterator[Provisioning]:
        """The service on the installation's database (opened for the block, then closed)."""
        from kassagate.front.keys import load_or_create_token_key

        data_dir = Path(settings.data_dir)
        db = await open_database(settings.effective_database_url)
        try:
            yield cls(db, data_dir, await asyncio.to_thread(load_or_create_token_key, data_dir))
        finally:
            await db.close()

    async def add_kassa(
        self,
        kassaid: str,
        token: str,
        *,
        type_: str = "standard",
        debug: bool = False,
        activated: bool = True,
        cluster: str | None = None,
        kkt: str = "virtual",
        merchant_id: str | None = None,
    ) -> NewKassa:
        """Create kassa ``kassaid`` with ``token``, on a new register: ``kkt`` is
        ``virtual`` (registered), ``unregistered`` (a virtual register without an FN),
        ``none`` or a remote register's http(s) URL (then ``merchant_id`` is required).
        Raises :class:`DuplicateError`, :class:`NotFoundError` (no such cluster) or
        :class:`ProvisioningError`; on any failure nothing is left behind."""
        if type_ not in ACCOUNT_TYPES:
            raise ProvisioningError("the type must be standard or vending")
        acc = self.accounts
        if await acc.get_kassa(kassaid) is not None:
            raise DuplicateError(f"kassa {kassaid} already exists")
        if cluster is not None and await acc.get_cluster(cluster) is None:
            raise NotFoundError(f"no cluster {cluster}")
        kkt_id: int | None = None
        described = "no register"
        journal: Path | None = None
        if kkt in ("virtual", "unregistered"):
            made = await self._virtual_register(merchant_id or new_merchant_id(), registered=kkt == "virtual")
            kkt_id, journal, described = made
        elif kkt != "none":
            kkt_id, described = await self._remote_register(kkt, merchant_id)
        try:
            await acc.add_kassa(
                kassaid, token=token, type=type_, activated=activated, debug=debug, kkt_id=kkt_id, cluster_id=cluster
            )
        except BaseException:
            if kkt_id is not None:
                await acc.delete_kkt(kkt_id)
            if journal is not None:
                await asyncio.to_thread(_remove_journal, journal)
            raise
        return NewKassa(kassaid, kkt_id, described)

    async def _virtual_register(self, merchant_id: str, *, registered: bool) -> tuple[int, Path, str]:
        made: list[Path] = []

        async def create(kkt_id: int) -> Journal:
            rel = journal_name(kkt_id)
            path = self.data_dir / rel
            await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
            existed = await asyncio.to_thread(path.exists)
            try:
                identity = await asyncio.to_thread(create_register, path, merchant_id=merchant_id,
                                                   registered=registered)
            except BaseException:
                if not existed:
                    await asyncio.to_thread(_remove_journal, path)
                raise
            made.append(path)
            return Journal(rel, identity.fn_serial, identity.kkt_reg_number)

        try:
            kkt_id = await add_virtual_kkt(self.db, merchant_id, create)
        except BaseException:
            for path in made:
                await asyncio.to_thread(_remove_journal, path)
            raise
        row = await self.accounts.get_kkt(kkt_id)
        assert row is not None
        described = f"virtual register #{kkt_id} at {row.journal_path}" + (
            f" (FN {row.fn_serial}, RN {row.kkt_reg_number})" if row.fn_serial else " (no fiscal registration)"
        )
        return kkt_id, made[0], described

    async def _remote_register(self, url: str, merchant_id: str | None) -> tuple[int, str]:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ProvisioningError("the register must be virtual, unregistered, none or an http(s):// URL")
        if not merchant_id:
            raise ProvisioningError("a register URL needs the register's merchant ID")
        identity, why = await probe_remote(url, merchant_id)
        kkt_id = await self.accounts.add_kkt(kind="remote", url=url, merchant_id=merchant_id, **identity)
        described = f"remote register #{kkt_id} at {parts.scheme}://{parts.netloc}"
        if identity.get("fn_serial"):
            described += f" (FN {identity['fn_serial']}, RN {identity['kkt_reg_number']})"
        else:
            described += f" ({why}; until processing reads its registration, requests answer code 50)"
        return kkt_id, described

    async def add_cluster(self, cluster_id: str, token: str, *, type_: str = "standard",
                          activated: bool = True) -> None:
        """Create cluster ``cluster_id`` with ``token`` (:class:`DuplicateError` when it exists)."""
        if type_ not in ACCOUNT_TYPES:
            raise ProvisioningError("the type must be standard or vending")
        await self.accounts.add_cluster(cluster_id, token=token, type=type_, activated=activated)

    async def rotate_token(self, kind: Literal["kassa", "cluster"], key: str) -> str:
        """A new random token for the kassa or cluster ``key``, returned; the old one stops
        working at once (:class:`NotFoundError` when there is no such account)."""
        token = new_token()
        await self.accounts.set_token(kind, key, token)
        return token


def _remove_journal(path: Path) -> None:
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        p.unlink(missing_ok=True)


async def probe_remote(url: str, merchant_id: str) -> tuple[dict[str, Any], str]:
    """A remote register's identity from its ``/get_info``, best effort (5 s), and why
    there is none when there is none."""
    from kassagate.cashbox.client import CashboxClient, HttpTransport, RegisterUnreachable

    transport = HttpTransport(url, merchant_id, timeout=5.0)
    try:
        info = await CashboxClient(transport).get_info()
    except RegisterUnreachable:
        return {}, "not reachable now"
    except Exception as exc:  # a register that answers nonsense must not stop the provisioning
        return {}, f"its get_info answer was unusable ({type(exc).__name__})"
    finally:
        await transport.aclose()
    if not info.ok:
        return {}, f"get_info answered code {info.code}"
    if not info.fn_number or not info.kkt_reg_number:
        return {}, "it has no fiscal registration"
    state = info.fn_state if info.fn_state in FN_STATES else "ok"
    return {"fn_serial": info.fn_number, "kkt_reg_number": info.kkt_reg_number, "fn_state": state}, ""
