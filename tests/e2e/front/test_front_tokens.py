"""Token checks through real HTTP: an unknown kassaid and a wrong token take the same
time (no oracle of which kassaids exist); a row in the PBKDF2 form still verifies and is
rewritten in the HMAC form by its first good token; ``kassa add``/``cluster add`` without
``--token`` generate a working token."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

from support.front import RunningFront, envelope, running_front
from support.strategies import sample_receipt
from support.system import run_cli

TOKEN = "timing-token-0123456789"
TRIES = 200
#: The medians of the two answers may differ by this much (they differed by 30 ms when a
#: wrong token paid a key stretching that an unknown kassaid did not).
MEDIAN_GAP_BOUND = 0.005


async def kassa_with_kkt(f: RunningFront, kassaid: str) -> None:
    kkt = await f.ctx.accounts.add_kkt(kind="remote", url="http://127.0.0.1:9", merchant_id="m",
                                       fn_serial="9999000000000001", kkt_reg_number="0000000000000001")
    await f.ctx.accounts.add_kassa(kassaid, token=TOKEN, kkt_id=kkt)


async def code(f: RunningFront, kassaid: str, token: str, *, cluster: bool = False) -> str:
    body = envelope(f.keys, sample_receipt(kassaid=kassaid, kassatoken=token), kassaid=kassaid, token=token,
                    test="1")
    r = await f.post("/v1/fiscalize/cluster" if cluster else "/v1/fiscalize", body)
    return str(r.json()["code"])


async def test_unknown_kassa_and_wrong_token_cost_the_same(data_dir: Path, port: int) -> None:
    async with running_front(data_dir, port) as f:
        await kassa_with_kkt(f, "4100")
        receipt = sample_receipt(kassaid="4100", kassatoken="wrong-token-0123456789")
        bodies = {
            "320": [envelope(f.keys, receipt, kassaid="4100", token="wrong-token-0123456789") for _ in range(TRIES)],
            "300": [envelope(f.keys, receipt, kassaid="4199", token="wrong-token-0123456789") for _ in range(TRIES)],
        }
        took: dict[str, list[float]] = {"320": [], "300": []}
        for i in range(TRIES):
            for expected in ("320", "300") if i % 2 else ("300", "320"):  # interleaved: same noise for both
                t0 = time.perf_counter()
                r = await f.post("/v1/fiscalize", bodies[expected][i])
                took[expected].append(time.perf_counter() - t0)
                assert r.json()["code"] == expected
        wrong, unknown = statistics.median(took["320"]), statistics.median(took["300"])
        assert abs(wrong - unknown) < MEDIAN_GAP_BOUND, (wrong, unknown)


async def test_a_pbkdf2_row_verifies_and_its_first_good_token_rewrites_it(data_dir: Path, port: int) -> None:
    from kassagate.storage.tokens import hash_token_pbkdf2

    async with running_front(data_dir, port) as f:
        await kassa_with_kkt(f, "4200")
        await f.ctx.accounts.add_cluster("4300", token=TOKEN)
        for kind, ident in (("kassa", "4200"), ("cluster", "4300")):
            row = await (f.ctx.accounts.get_kassa(ident) if kind == "kassa" else f.ctx.accounts.get_cluster(ident))
            assert row is not None and row.token_hash.startswith("hmac_sha256$")
            salt, old = hash_token_pbkdf2(TOKEN, iterations=2000)
            assert await f.ctx.accounts.replace_token_hash(kind, ident, row.token_hash, salt, old)  # type: ignore[arg-type]
        assert await code(f, "4200", "wrong-token-0123456789") == "320"
        assert await code(f, "4300", "wrong-token-0123456789", cluster=True) == "180"
        assert (await f.ctx.accounts.get_kassa("4200")).token_hash.startswith("pbkdf2_sha256$")  # type: ignore[union-attr]
        assert await code(f, "4200", TOKEN) == "140"
        assert await code(f, "4300", TOKEN, cluster=True) == "190"  # the token is good; no kassa attached
        kassa, cluster = await f.ctx.accounts.get_kassa("4200"), await f.ctx.accounts.get_cluster("4300")
        assert kassa is not None and kassa.token_hash.startswith("hmac_sha256$")
        assert cluster is not None and cluster.token_hash.startswith("hmac_sha256$")
        assert await code(f, "4200", TOKEN) == "140"
        assert await code(f, "4200", "wrong-token-0123456789") == "320"


async def test_accounts_added_without_a_token_get_a_random_one_that_works(data_dir: Path, port: int) -> None:
    async with running_front(data_dir, port) as f:
        tokens = []
        for args in (["kassa", "add", "4400", "--kkt", "none"], ["cluster", "add", "4500"]):
            p = await asyncio.to_thread(run_cli, *args, data_dir=data_dir)
            lines = [line for line in p.stdout.splitlines() if line.startswith("token: ")]
            assert len(lines) == 1
            token = lines[0].removeprefix("token: ")
            assert len(token) >= 22 and token.replace("-", "").replace("_", "").isalnum()  # >= 128 bits
            tokens.append(token)
        assert tokens[0] != tokens[1]
        assert await code(f, "4400", tokens[0]) == "40"  # the token is good; bound to no register
        assert await code(f, "4400", tokens[1]) == "320"
        assert await code(f, "4500", tokens[1], cluster=True) == "190"
