"""The provisioning service on both engines: a register is complete when its row appears,
a failure leaves nothing behind, tokens rotate."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from kassagate import provisioning
from kassagate.cashbox.virtual import read_journal
from kassagate.front.keys import load_or_create_token_key
from kassagate.provisioning import DuplicateError, NotFoundError, Provisioning, ProvisioningError
from kassagate.storage.db import open_database
from kassagate.storage.repos import Accounts
from kassagate.storage.tokens import verify_token

TOKEN = "provisioning-token-0001"


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> Any:
    db = await open_database(database_url)
    try:
        yield Provisioning(db, tmp_path, load_or_create_token_key(tmp_path))
    finally:
        await db.close()


async def test_a_virtual_register_row_appears_only_with_its_journal(
    service: Provisioning, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What another process (processing's monitor) reads while a kassa is being added: no
    row of the new register until its journal exists and the row names it."""
    observer = Accounts(await open_database(database_url))
    loop = asyncio.get_running_loop()
    seen: list[Any] = []
    real = provisioning.create_register

    def create_and_look(path: Path, **kwargs: Any) -> Any:  # runs in a worker thread
        kkt_id = int(re.fullmatch(r"kkt-(\d+)\.sqlite3", path.name).group(1))  # type: ignore[union-attr]
        seen.append(("before", asyncio.run_coroutine_threadsafe(observer.get_kkt(kkt_id), loop).result(10)))
        identity = real(path, **kwargs)
        seen.append(("after", asyncio.run_coroutine_threadsafe(observer.get_kkt(kkt_id), loop).result(10)))
        return identity

    monkeypatch.setattr(provisioning, "create_register", create_and_look)
    try:
        made = await service.add_kassa("5001", TOKEN)
        assert seen == [("before", None), ("after", None)]
        row = await service.accounts.get_kkt(made.kkt_id or 0)
        assert row is not None and row.journal_path == f"registers/kkt-{made.kkt_id}.sqlite3"
        assert row.registered and (service.data_dir / row.journal_path).exists()
        assert next(iter(read_journal(service.data_dir / row.journal_path)))["fd"] == 1
    finally:
        await observer.db.close()


async def test_a_failed_journal_leaves_no_register(service: Provisioning, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(path: Path, **kwargs: Any) -> Any:
        path.write_bytes(b"half a journal")
        raise OSError("disk full")

    monkeypatch.setattr(provisioning, "create_register", broken)
    with pytest.raises(OSError, match="disk full"):
        await service.add_kassa("5002", TOKEN)
    assert await service.accounts.get_kassa("5002") is None
    assert await service.accounts.get_kkt(1) is None
    assert list((service.data_dir / "registers").iterdir()) == []


async def test_a_refused_kassa_removes_its_new_register(service: Provisioning) -> None:
    await service.add_kassa("5003", TOKEN)
    with pytest.raises(NotFoundError, match="no cluster 404"):
        await service.add_kassa("5004", TOKEN, cluster="404")
    with pytest.raises(DuplicateError, match="already exists"):
        await service.add_kassa("5003", TOKEN)
    first = await service.accounts.get_kassa("5003")
    assert first is not None and first.kkt is not None
    assert sorted(p.name for p in (service.data_dir / "registers").iterdir()) == [
        Path(first.kkt.journal_path or "").name
    ]


async def test_kinds_of_register_and_bad_input(service: Provisioning) -> None:
    none = await service.add_kassa("5005", TOKEN, kkt="none", type_="vending", debug=True, activated=False)
    assert (none.kkt_id, none.register) == (None, "no register")
    bare = await service.add_kassa("5006", TOKEN, kkt="unregistered")
    assert "no fiscal registration" in bare.register
    kassa = await service.accounts.get_kassa("5005")
    assert kassa is not None and (kassa.type, kassa.debug, kassa.activated) == ("vending", True, False)
    for options in ({"kkt": "ftp://register"}, {"kkt": "http://127.0.0.1:9"}, {"type_": "archive"}):
        with pytest.raises(ProvisioningError):
            await service.add_kassa("5007", TOKEN, **options)
    assert await service.accounts.get_kassa("5007") is None


async def test_clusters_and_token_rotation(service: Provisioning) -> None:
    await service.add_kassa("5008", TOKEN, kkt="none")
    await service.add_cluster("58", TOKEN, type_="vending")
    with pytest.raises(DuplicateError):
        await service.add_cluster("58", TOKEN)
    key = load_or_create_token_key(service.data_dir)
    for kind, ident in (("kassa", "5008"), ("cluster", "58")):
        account = await (service.accounts.get_kassa(ident) if kind == "kassa" else service.accounts.get_cluster(ident))
        assert account is not None and verify_token(TOKEN, account.token_salt, account.token_hash, key)
        new = await service.rotate_token(kind, ident)  # type: ignore[arg-type]
        account = await (service.accounts.get_kassa(ident) if kind == "kassa" else service.accounts.get_cluster(ident))
        assert account is not None and len(new) >= 16 and new != TOKEN
        assert verify_token(new, account.token_salt, account.token_hash, key)
        assert not verify_token(TOKEN, account.token_salt, account.token_hash, key)
    with pytest.raises(NotFoundError):
        await service.rotate_token("kassa", "404")
