"""The double envelope (``docs/front.md``) opened by the server, and the key files."""

from __future__ import annotations

import base64
import json
import os
import stat
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from kassagate.front import envelope
from kassagate.front.keys import load_keys, load_or_create_keys, rotate_keys
from support.front import PublishedKeys, body_for, dumps, layer2_for, seal
from support.profiles import examples


@pytest.fixture(scope="module")
def ring_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("keys")
    load_or_create_keys(d, 2048)
    return d


def layers(d: Path) -> tuple[envelope.Layer, envelope.Layer, PublishedKeys]:
    ring = load_keys(d)
    acc = ring.accepted()
    first = envelope.Layer.from_pems([m.rsa_first_pem for m in acc], [m.hmac_first for m in acc])
    second = envelope.Layer.from_pems([m.rsa_second_pem for m in acc], [m.hmac_second for m in acc])
    return first, second, PublishedKeys.from_json(ring.current.public_json())


def open_body(first: envelope.Layer, second: envelope.Layer, body: dict[str, str]) -> envelope.Opened:
    aab = envelope.b64decode_lenient(body["aab"])
    dde = envelope.b64decode_lenient(body["dde"])
    assert aab is not None and dde is not None
    return envelope.open_envelope(first, second, aab, dde)


def test_key_files_are_private_and_published_halves_are_public(ring_dir: Path) -> None:
    cur = ring_dir / "keys" / "current"
    for name in ("rsa_first.pem", "rsa_second.pem"):
        assert stat.S_IMODE(os.stat(cur / name).st_mode) == 0o600
        assert b"PRIVATE KEY" in (cur / name).read_bytes()
    pub = load_keys(ring_dir).current.public_json()
    assert set(pub) == {"rsa_first", "hmac_first", "rsa_second", "hmac_second"}
    assert all("PRIVATE" not in v for v in pub.values())
    assert pub["rsa_first"].startswith("-----BEGIN PUBLIC KEY-----")
    assert len(base64.b64decode(pub["hmac_first"])) == 32
    assert pub["rsa_first"] != pub["rsa_second"] and pub["hmac_first"] != pub["hmac_second"]
    # a second start reuses the keys
    assert load_or_create_keys(ring_dir, 2048).current == load_keys(ring_dir).current


def test_round_trip(ring_dir: Path) -> None:
    first, second, keys = layers(ring_dir)
    receipt = {"kassaid": "1", "x": "привет"}
    stage, detail, l2, l1 = open_body(first, second, body_for(keys, layer2_for(keys, receipt, kassaid="1")))
    assert (stage, detail) == (envelope.OK, "")
    assert l1 == receipt and l2 is not None and l2["kassaid"] == "1"


def test_each_failure_stage(ring_dir: Path) -> None:
    first, second, keys = layers(ring_dir)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    good_l2 = layer2_for(keys, {"a": 1})

    aab, dde = seal(dumps(good_l2), other, keys.hmac_second)
    assert open_body(first, second, {"aab": aab, "dde": dde})[0] == envelope.OUTER_RSA
    aab, dde = seal(dumps(good_l2), keys.rsa_second, b"x" * 32)
    assert open_body(first, second, {"aab": aab, "dde": dde})[0] == envelope.OUTER_HMAC
    for raw in (b"[1]", b"\xff\xfe", b"not json", b"null"):
        assert open_body(first, second, body_for(keys, None, layer2_raw=raw))[0] == envelope.OUTER_NOT_OBJECT
    for l2 in ({"de": good_l2["de"]}, {"ab": good_l2["ab"], "de": 5}, {"ab": "!!", "de": good_l2["de"]},
               {"ab": base64.b64encode(b"short").decode(), "de": good_l2["de"]},
               {"ab": good_l2["ab"], "de": base64.b64encode(b"x" * 10).decode()}):
        assert open_body(first, second, body_for(keys, l2))[0] == envelope.INNER_MISSING
    ab, de = seal(b"{}", other, keys.hmac_first)
    assert open_body(first, second, body_for(keys, {"ab": ab, "de": de}))[0] == envelope.INNER_RSA
    ab, de = seal(b"{}", keys.rsa_first, keys.hmac_second)
    assert open_body(first, second, body_for(keys, {"ab": ab, "de": de}))[0] == envelope.INNER_HMAC
    stage, detail, _, l1 = open_body(first, second, body_for(keys, layer2_for(keys, None, layer1_raw=b"\x00{")))
    assert stage == envelope.OK and l1 is None and "JSON" in detail
    # a flipped ciphertext byte is caught by the HMAC
    body = body_for(keys, good_l2)
    raw = bytearray(base64.b64decode(body["dde"]))
    raw[-1] ^= 1
    body["dde"] = base64.b64encode(bytes(raw)).decode()
    assert open_body(first, second, body)[0] == envelope.OUTER_HMAC


def test_lenient_base64() -> None:
    data = os.urandom(100)
    std = base64.b64encode(data).decode()
    assert envelope.b64decode_lenient(std) == data
    assert envelope.b64decode_lenient(std.replace("+", " ")) == data
    assert envelope.b64decode_lenient(std.rstrip("=")) == data
    assert envelope.b64decode_lenient(base64.urlsafe_b64encode(data).decode()) == data
    assert envelope.b64decode_lenient("\n".join(std[i:i + 76] for i in range(0, len(std), 76))) == data
    for bad in ("a", "!!!!", "ab=c", "é"):
        assert envelope.b64decode_lenient(bad) is None


@settings(max_examples=examples(1000))
@given(st.one_of(
    st.text(alphabet="ABCabz019+/=-_ \r\n\té!", max_size=40),
    st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode()),
))
def test_lenient_base64_fast_path_decodes_as_the_tolerant_one(value: str) -> None:
    """Strict standard base64 takes a one-pass path: it must decode to exactly what the
    tolerant path gives, and anything else must go on to the tolerant path."""
    assert envelope.b64decode_lenient(value) == envelope._b64decode_tolerant(value)


def test_rotation_accepts_both_generations_during_grace(tmp_path: Path) -> None:
    load_or_create_keys(tmp_path, 2048)
    _, _, old_keys = layers(tmp_path)
    ring = rotate_keys(tmp_path, 2048, grace_hours=1)
    assert ring.previous is not None and ring.previous_until is not None
    assert ring.previous_until > time.time() + 3500
    assert stat.S_IMODE(os.stat(tmp_path / "keys" / "previous" / "rsa_first.pem").st_mode) == 0o600
    first, second, new_keys = layers(tmp_path)
    assert new_keys.rsa_first.public_numbers() != old_keys.rsa_first.public_numbers()
    for keys in (old_keys, new_keys):
        assert open_body(first, second, body_for(keys, layer2_for(keys, {"k": 1})))[3] == {"k": 1}
    # after the grace, only the new generation is accepted
    (tmp_path / "keys" / "previous" / "valid_until").write_text(f"{time.time() - 1}\n")
    first, second, _ = layers(tmp_path)
    assert open_body(first, second, body_for(old_keys, layer2_for(old_keys, {"k": 1})))[0] == envelope.OUTER_RSA
    assert json.loads(json.dumps(load_keys(tmp_path).current.public_json())) == new_keys_json(tmp_path)


def new_keys_json(d: Path) -> dict[str, str]:
    return load_keys(d).current.public_json()
