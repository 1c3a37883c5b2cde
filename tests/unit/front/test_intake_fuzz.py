"""Fuzz the intake in-process: random, truncated, bit-flipped and type-confused bodies
(24,000 under the ci profile, ``KASSAGATE_FUZZ_CASES`` to choose) get only the intake's
codes (``FrontCode``), never code 80, and a valid receipt is accepted afterwards. (Small
RSA keys here keep it fast; the HTTP fuzz uses real ones.)"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kassagate.core.codes import FrontCode
from kassagate.front import envelope
from kassagate.front.intake import Intake
from kassagate.storage.repos import Cluster, Kassa, Kkt
from kassagate.storage.request_store import NewRequest, Stored
from kassagate.storage.tokens import TokenVerifier, hash_token
from support.front import PublishedKeys
from support.fuzz import Mutator
from support.profiles import examples
from support.strategies import sample_receipt

TOKEN = "fuzz-token-0001"
TOKEN_KEY = os.urandom(32)
#: At least 4,000 under any profile: fewer do not reach every code of the table below.
FUZZ_CASES = int(os.environ.get("KASSAGATE_FUZZ_CASES", examples(24000, minimum=4000)))

#: Every code the intake may answer (docs/front.md, codes); 80 and 70 would mean a bug here.
TABLE = {int(c) for c in FrontCode} - {210, 240, 250}


class LocalCrypto:
    def __init__(self, first: envelope.Layer, second: envelope.Layer) -> None:
        self.first, self.second = first, second
        self.outer_sizes = second.sizes

    async def open(self, aab: bytes, dde: bytes) -> envelope.Opened:
        return envelope.open_envelope(self.first, self.second, aab, dde)


class MemAccounts:
    def __init__(self, kassas: dict[str, Kassa]) -> None:
        self.kassas = kassas
        self.tokens = TokenVerifier(TOKEN_KEY)

    async def kassa(self, kassaid: str) -> Kassa | None:
        return self.kassas.get(kassaid)

    async def cluster(self, cluster_id: str) -> Cluster | None:
        return None

    async def cluster_members(self, cluster_id: str) -> list[Kassa]:
        return []

    async def pending_counts(self, kassaids: list[str]) -> dict[str, int]:
        return {}

    async def verify_token(self, token: str, account: Kassa | Cluster | None) -> bool:
        if account is None:
            return (await self.tokens.verify(token, None, None)).ok
        return (await self.tokens.verify(token, account.token_salt, account.token_hash)).ok


class MemStore:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.rids: dict[tuple[str, str], dict[str, Any]] = {}

    async def insert(self, request: NewRequest) -> Stored:
        row = msgspec.structs.asdict(request)
        key = (row["rid_scope"], row["rid"])
        if row["rid"] is not None and key in self.rids:
            return Stored(id=None, duplicate_of=self.rids[key])
        self.rows.append(row)
        if row["rid"] is not None:
            self.rids[key] = row
        return Stored(id=len(self.rows))


def make_keys() -> tuple[envelope.Layer, envelope.Layer, PublishedKeys]:
    privs = [rsa.generate_private_key(public_exponent=65537, key_size=1024) for _ in range(2)]  # noqa: S505 - speed
    hmacs = [os.urandom(32), os.urandom(32)]
    first = envelope.Layer(privs[:1], hmacs[:1])
    second = envelope.Layer(privs[1:], hmacs[1:])
    pub = PublishedKeys(privs[0].public_key(), hmacs[0], privs[1].public_key(), hmacs[1])
    return first, second, pub


def kassa(kassaid: str, **kw: Any) -> Kassa:
    salt, h = hash_token(TOKEN, TOKEN_KEY)
    kkt = Kkt(1, "remote", "http://x", "m", None, "9999000000000001", "0000000000000001", "ok", 0)
    base: dict[str, Any] = dict(kassaid=kassaid, token_salt=salt, token_hash=h, type="standard", activated=True,
                                debug=False, kkt_id=1, cluster_id=None, callback_url=None, kkt=kkt)
    base.update(kw)
    return Kassa(**base)


@pytest.mark.slow
@pytest.mark.parametrize("vending", [False, True])
async def test_fuzz_intake_in_process(vending: bool) -> None:
    first, second, pub = make_keys()
    store = MemStore()
    kid = "321" if not vending else "322"
    accounts = MemAccounts({kid: kassa(kid, type="vending" if vending else "standard")})
    intake = Intake(LocalCrypto(first, second), accounts, store)
    receipt = sample_receipt(kassaid=kid, kassatoken=TOKEN, vending=vending, email="fuzz@example.com")
    mut = Mutator(pub, receipt, kid, TOKEN, seed=1234 + vending)
    seen: Counter[int] = Counter()
    by_kind: dict[str, set[int]] = {}
    for _ in range(FUZZ_CASES // 2):
        kind, body = mut.any()
        ans = await intake.handle("kassa", body)
        code = int(ans.code)
        assert code in TABLE and code not in (70, 80), (kind, ans)
        assert ans.http_status in (200, 409)
        assert isinstance(ans.body()["code"], str) and ans.body()["status"] in ("success", "error")
        seen[code] += 1
        by_kind.setdefault(kind.split("-")[0], set()).add(code)
    # the mutations reached every stage of the table
    for code in (90, 120, 130, 110, 270, 280, 290, 300, 320, 60, 350, 800):
        assert seen[code] > 0, (code, seen)
    if vending:
        assert seen[4040] > 0
    ok = await intake.handle("kassa", mut.valid_body())
    assert ok.code == FrontCode.ACCEPTED


async def test_cluster_mode_fuzz_sample() -> None:
    first, second, pub = make_keys()
    intake = Intake(LocalCrypto(first, second), MemAccounts({}), MemStore())
    mut = Mutator(pub, sample_receipt(kassaid="9", kassatoken=TOKEN), "9", TOKEN, seed=99)
    for _ in range(500):
        _, body = mut.any()
        ans = await intake.handle("cluster", body)
        assert int(ans.code) in TABLE and int(ans.code) not in (70, 80, 90, 110), ans

