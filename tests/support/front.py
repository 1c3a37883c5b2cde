"""Test helpers for the front server: build envelopes the way merchants' clients do
(``docs/front.md``, with ``cryptography`` only, independent of the server's decryption code),
and run a real front server (uvicorn) on a free port.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import json
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from hashlib import sha512
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

OAEP = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303


@dataclass(frozen=True)
class PublishedKeys:
    rsa_first: rsa.RSAPublicKey
    hmac_first: bytes
    rsa_second: rsa.RSAPublicKey
    hmac_second: bytes

    @classmethod
    def from_json(cls, obj: dict[str, str]) -> PublishedKeys:
        first = serialization.load_pem_public_key(obj["rsa_first"].encode())
        second = serialization.load_pem_public_key(obj["rsa_second"].encode())
        assert isinstance(first, rsa.RSAPublicKey) and isinstance(second, rsa.RSAPublicKey)
        return cls(first, base64.b64decode(obj["hmac_first"]), second, base64.b64decode(obj["hmac_second"]))


def seal(plaintext: bytes, public_key: rsa.RSAPublicKey, hmac_key: bytes) -> tuple[str, str]:
    """One layer: (key parameter, data parameter)."""
    k = os.urandom(32)
    iv = os.urandom(16)
    enc = Cipher(algorithms.AES(k), modes.CTR(iv)).encryptor()
    c = enc.update(plaintext) + enc.finalize()
    m = hmac.new(hmac_key, iv + c, sha512).digest()
    return base64.b64encode(public_key.encrypt(k, OAEP)).decode(), base64.b64encode(m + iv + c).decode()


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def layer2_for(
    keys: PublishedKeys,
    receipt: Any,
    *,
    kassaid: Any = "123456",
    token: Any = "test-token-0123456789",
    rid: Any = None,
    test: Any = "0",
    layer1_raw: bytes | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    ab, de = seal(layer1_raw if layer1_raw is not None else dumps(receipt), keys.rsa_first, keys.hmac_first)
    layer2: dict[str, Any] = {"ab": ab, "de": de, "kassaid": kassaid, "kassatoken": token, "test": test}
    if rid is not None:
        layer2["rid"] = rid
    if extra:
        layer2.update(extra)
    return layer2


def body_for(keys: PublishedKeys, layer2: Any, *, test: Any = "0", layer2_raw: bytes | None = None) -> dict[str, Any]:
    aab, dde = seal(layer2_raw if layer2_raw is not None else dumps(layer2), keys.rsa_second, keys.hmac_second)
    return {"aab": aab, "dde": dde, "test": test}


def envelope(keys: PublishedKeys, receipt: Any, **kw: Any) -> dict[str, Any]:
    """The wire body for ``receipt`` (kassaid/token/rid/test as in :func:`layer2_for`)."""
    outer_test = kw.pop("outer_test", "0")
    return body_for(keys, layer2_for(keys, receipt, **kw), test=outer_test)


_KEY_CACHE: dict[int, Path] = {}


def seed_keys(data_dir: Path, bits: int = 2048) -> None:
    """Copy a key set generated once per test session into ``data_dir`` (fast)."""
    from kassagate.front.keys import load_or_create_keys

    if bits not in _KEY_CACHE:
        base = Path(os.environ.get("PYTEST_KEYS_TMP", "/tmp")) / f"kassagate-test-keys-{os.getpid()}-{bits}"
        if not (base / "keys" / "current" / "generation").exists():
            load_or_create_keys(base, bits)
        _KEY_CACHE[bits] = base
    src = _KEY_CACHE[bits] / "keys"
    if not (data_dir / "keys").exists():
        shutil.copytree(src, data_dir / "keys")


@dataclass
class RunningFront:
    url: str
    ctx: Any
    keys: PublishedKeys
    client: httpx.AsyncClient

    async def post(self, path: str, body: Any, **kw: Any) -> httpx.Response:
        if isinstance(body, (bytes, str)):
            return await self.client.post(self.url + path, content=body, **kw)
        return await self.client.post(self.url + path, json=body, **kw)


@contextlib.asynccontextmanager
async def running_front(
    data_dir: Path,
    port: int,
    database_url: str | None = None,
    *,
    workers: int = 2,
    max_body: int | None = None,
    log_level: str = "warning",
    account_ttl: float = 0,
) -> AsyncIterator[RunningFront]:
    """A real front server (uvicorn, HTTP on 127.0.0.1:port) in this event loop."""
    from kassagate.config import load_settings
    from kassagate.front.app import create_front_app
    from kassagate.front.context import FrontContext

    seed_keys(data_dir)
    settings = load_settings(data_dir=str(data_dir), database_url=database_url, max_body=max_body)
    ctx = await FrontContext.open(settings, crypto_workers=workers, account_ttl=account_ttl)
    config = uvicorn.Config(
        create_front_app(ctx),
        host="127.0.0.1",
        port=port,
        log_level=log_level,
        access_log=log_level == "debug",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        url = f"http://127.0.0.1:{port}"
        # A pooled connection is dropped after 2 s idle, before uvicorn closes it (5 s): a
        # request sent on a connection the server is closing at that moment fails unanswered.
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(keepalive_expiry=2.0)) as client:
            keys = PublishedKeys.from_json((await client.get(url + "/v1/keys")).json())
            yield RunningFront(url, ctx, keys, client)
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await task
        await ctx.close()
