"""Mutations for the front fuzz tests: random, truncated, bit-flipped and type-confused
bodies at every level (outer JSON, layer 2, layer 1, each receipt field)."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from typing import Any

from support.front import PublishedKeys, body_for, dumps, layer2_for

CONFUSED: list[Any] = [
    None, "", " ", "0", "1", "-1", "abc", "１２", "1e400", "NaN", 0, 1, -1, 2**63, -(2**70), 10**30, 0.5, -0.0, 1e308,
    True, False, [], [1], {}, {"a": 1}, "x" * 5000, "\u0000", "\ud7ff", "'; DROP TABLE requests; --",
]


def field_paths(obj: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield (*prefix, k)
            yield from field_paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield (*prefix, i)
            yield from field_paths(v, (*prefix, i))


def set_path(obj: Any, path: tuple[Any, ...], value: Any, *, delete: bool = False) -> Any:
    out = copy.deepcopy(obj)
    cur = out
    for p in path[:-1]:
        cur = cur[p]
    if delete:
        del cur[path[-1]]
    else:
        cur[path[-1]] = value
    return out


def flip_bits(rng: random.Random, data: bytes, n: int = 1) -> bytes:
    if not data:
        return data
    b = bytearray(data)
    for _ in range(n):
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data))] if data else data


def random_bytes(rng: random.Random) -> bytes:
    return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))


class Mutator:
    """Yields ``(kind, body bytes)`` for a valid receipt under kassa ``kassaid``."""

    def __init__(self, keys: PublishedKeys, receipt: dict[str, Any], kassaid: str, token: str, seed: int) -> None:
        self.keys = keys
        self.receipt = receipt
        self.kassaid = kassaid
        self.token = token
        self.rng = random.Random(seed)
        self.paths = list(field_paths(receipt))
        self.n = 0

    def _layer2(self, receipt: Any = None, raw1: bytes | None = None) -> dict[str, Any]:
        self.n += 1
        return layer2_for(self.keys, self.receipt if receipt is None else receipt, kassaid=self.kassaid,
                          token=self.token, rid=f"fz-{self.n}", layer1_raw=raw1)

    def valid_body(self) -> bytes:
        return dumps(body_for(self.keys, self._layer2()))

    def outer(self) -> tuple[str, bytes]:
        rng = self.rng
        choice = rng.randrange(6)
        if choice == 0:
            return "outer-random", random_bytes(rng)
        valid = self.valid_body()
        if choice == 1:
            return "outer-truncated", truncate(rng, valid)
        if choice == 2:
            return "outer-bitflip", flip_bits(rng, valid, rng.randrange(1, 4))
        obj = json.loads(valid)
        key = rng.choice(["aab", "dde", "test"])
        if choice == 3:
            obj[key] = rng.choice(CONFUSED)
        elif choice == 4:
            obj.pop(key)
        else:
            obj[key] = obj[key][: rng.randrange(len(obj[key]) + 1)] if isinstance(obj[key], str) else obj[key]
        return f"outer-{key}", dumps(obj)

    def layer2(self) -> tuple[str, bytes]:
        rng = self.rng
        l2 = self._layer2()
        choice = rng.randrange(4)
        if choice == 0:
            key = rng.choice(["ab", "de", "kassaid", "kassatoken", "rid", "test", "check_type"])
            l2[key] = rng.choice(CONFUSED)
            return f"layer2-{key}", dumps(body_for(self.keys, l2))
        if choice == 1:
            key = rng.choice(["ab", "de", "kassaid", "kassatoken"])
            l2.pop(key)
            return f"layer2-drop-{key}", dumps(body_for(self.keys, l2))
        raw = dumps(l2)
        raw = truncate(rng, raw) if choice == 2 else flip_bits(rng, raw, rng.randrange(1, 4))
        return "layer2-raw", dumps(body_for(self.keys, None, layer2_raw=raw))

    def ciphertext(self) -> tuple[str, bytes]:
        import base64

        rng = self.rng
        l2 = self._layer2()
        body = body_for(self.keys, l2)
        target = rng.choice(["aab", "dde", "ab", "de"])
        holder = body if target in ("aab", "dde") else l2
        raw = base64.b64decode(holder[target])
        holder[target] = base64.b64encode(flip_bits(rng, raw, rng.randrange(1, 3))).decode()
        if holder is l2:
            body = body_for(self.keys, l2)
        return f"cipher-{target}", dumps(body)

    def layer1(self) -> tuple[str, bytes]:
        rng = self.rng
        raw = dumps(self.receipt)
        raw = truncate(rng, raw) if rng.randrange(2) else flip_bits(rng, raw, rng.randrange(1, 4))
        return "layer1-raw", dumps(body_for(self.keys, self._layer2(raw1=raw)))

    def receipt_field(self) -> tuple[str, bytes]:
        rng = self.rng
        path = rng.choice(self.paths)
        if rng.randrange(5) == 0:
            r = set_path(self.receipt, path, None, delete=True)
        else:
            r = set_path(self.receipt, path, rng.choice(CONFUSED))
        return "field-" + ".".join(str(p) for p in path), dumps(body_for(self.keys, self._layer2(receipt=r)))

    def any(self) -> tuple[str, bytes]:
        return self.rng.choice([self.outer, self.layer2, self.ciphertext, self.layer1, self.receipt_field,
                                self.receipt_field])()
