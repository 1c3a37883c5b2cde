"""Fuzz through real HTTP: mutated bodies (outer JSON, layer 2, ciphertexts, layer 1,
receipt fields, form bodies; 3,000 under the ci profile) get only the intake's codes
(``FrontCode``) and never an HTTP 5xx;
the server still accepts a valid receipt afterwards."""

from __future__ import annotations

import asyncio
import os
import random
from collections import Counter
from pathlib import Path

import pytest

from kassagate.core.codes import FrontCode
from support.front import running_front
from support.fuzz import Mutator, random_bytes
from support.profiles import examples
from support.strategies import sample_receipt

TOKEN = "fuzz-http-token-1"
HTTP_CASES = int(os.environ.get("KASSAGATE_HTTP_FUZZ_CASES", examples(3000)))
TABLE = {str(int(c)) for c in FrontCode} - {"210", "240", "250"}


@pytest.mark.slow
async def test_fuzz_through_http(data_dir: Path, port: int) -> None:
    async with running_front(data_dir, port) as f:
        kkt = await f.ctx.accounts.add_kkt(kind="remote", url="http://127.0.0.1:9", merchant_id="m",
                                           fn_serial="9999000000000001", kkt_reg_number="0000000000000001")
        await f.ctx.accounts.add_kassa("4242", token=TOKEN, kkt_id=kkt)
        mut = Mutator(f.keys, sample_receipt(kassaid="4242", kassatoken=TOKEN), "4242", TOKEN, seed=77)
        rng = random.Random(5)
        cases: list[tuple[str, str, bytes, str]] = []
        for i in range(HTTP_CASES):
            kind, body = mut.any()
            path = "/v1/fiscalize/cluster" if i % 5 == 0 else rng.choice(["/v1/fiscalize", "/srv/igd.php"])
            ctype = rng.choice(["application/json", "application/x-www-form-urlencoded", "text/plain", ""])
            if i % 50 == 0:
                body = b"aab=" + random_bytes(rng) + b"&dde=%ZZ&test=1"
            cases.append((kind, path, body, ctype))
        seen: Counter[str] = Counter()
        sem = asyncio.Semaphore(16)

        async def one(kind: str, path: str, body: bytes, ctype: str) -> None:
            async with sem:
                r = await f.client.post(f.url + path, content=body, headers={"content-type": ctype} if ctype else {})
            assert r.status_code in (200, 409), (kind, r.status_code, r.text)
            data = r.json()
            assert data["code"] in TABLE and data["code"] not in ("70", "80"), (kind, data)
            assert data["status"] in ("success", "error")
            seen[data["code"]] += 1

        await asyncio.gather(*(one(*c) for c in cases))
        assert {"90", "120", "130", "60", "150"} <= set(seen), seen
        r = await f.client.post(f.url + "/v1/fiscalize", content=mut.valid_body())
        assert (r.status_code, r.json()["code"]) == (200, "800")
