"""The double envelope (``docs/front.md``), checked against an independent decryption."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from kassagate.client.envelope import (
    KeysError,
    PublicKeys,
    encode_json,
    encrypt_layer,
    layer2_payload,
    outer_body,
    seal,
)
from support.client_reference import LayerError, ServerKeys, _ctr_keystream_decrypt
from support.strategies import sample_receipt


def test_layer_layout_is_hmac_iv_ciphertext(server_keys: ServerKeys) -> None:
    plaintext = '{"name": "чай"}'.encode()
    k, iv = bytes(range(32)), bytes(range(100, 116))
    key_b64, data_b64 = encrypt_layer(
        plaintext, server_keys.public().rsa_first, server_keys.hmac_first, aes_key=k, iv=iv
    )
    data = base64.b64decode(data_b64, validate=True)
    wrapped = base64.b64decode(key_b64, validate=True)
    assert len(wrapped) == 256  # one RSA-2048 block
    assert len(data) == 64 + 16 + len(plaintext)
    mac, got_iv, c = data[:64], data[64:80], data[80:]
    assert got_iv == iv
    assert mac == hmac.new(server_keys.hmac_first, iv + c, hashlib.sha512).digest()
    assert _ctr_keystream_decrypt(k, iv, c) == plaintext
    assert ServerKeys.decrypt_layer(server_keys.rsa_first, server_keys.hmac_first, key_b64, data_b64) == plaintext


def test_ctr_uses_the_iv_as_the_full_128_bit_counter(server_keys: ServerKeys) -> None:
    # With IV = 2^128 - 1 the second block's counter wraps to 0 (no 64-bit nonce/counter split).
    plaintext = bytes(40)
    k, iv = b"\x07" * 32, b"\xff" * 16
    _, data_b64 = encrypt_layer(plaintext, server_keys.public().rsa_first, b"h", aes_key=k, iv=iv)
    c = base64.b64decode(data_b64)[80:]
    ecb = Cipher(algorithms.AES(k), modes.ECB()).encryptor()  # noqa: S305
    stream = ecb.update(b"\xff" * 16 + bytes(16) + (1).to_bytes(16, "big"))
    assert c == stream[:40]


def test_no_padding_and_empty_plaintext(server_keys: ServerKeys) -> None:
    for size in (0, 1, 15, 16, 17, 1000):
        plaintext = bytes(range(256)) * 4
        key_b64, data_b64 = encrypt_layer(plaintext[:size], server_keys.public().rsa_first, server_keys.hmac_first)
        assert len(base64.b64decode(data_b64)) == 80 + size
        assert (
            ServerKeys.decrypt_layer(server_keys.rsa_first, server_keys.hmac_first, key_b64, data_b64)
            == (plaintext[:size])
        )


def test_fresh_key_and_iv_every_time(server_keys: ServerKeys) -> None:
    a = encrypt_layer(b"same", server_keys.public().rsa_first, server_keys.hmac_first)
    b = encrypt_layer(b"same", server_keys.public().rsa_first, server_keys.hmac_first)
    assert a[0] != b[0] and a[1] != b[1]
    assert base64.b64decode(a[1])[64:80] != base64.b64decode(b[1])[64:80]


def test_wrong_keys_do_not_decrypt(server_keys: ServerKeys, other_server_keys: ServerKeys) -> None:
    key_b64, data_b64 = encrypt_layer(b"x", server_keys.public().rsa_first, server_keys.hmac_first)
    with pytest.raises(LayerError) as info:
        ServerKeys.decrypt_layer(other_server_keys.rsa_first, server_keys.hmac_first, key_b64, data_b64)
    assert info.value.what == "rsa"
    with pytest.raises(LayerError) as info:
        ServerKeys.decrypt_layer(server_keys.rsa_first, other_server_keys.hmac_first, key_b64, data_b64)
    assert info.value.what == "hmac"


def test_seal_builds_both_layers_exactly(server_keys: ServerKeys) -> None:
    receipt = sample_receipt()
    body = seal(receipt, server_keys.public(), kassaid="123456", kassatoken="test-token-0123456789")
    assert set(body) == {"aab", "dde", "test"}
    assert body["test"] == "0"
    layer2, inner = server_keys.open_body(body)
    assert set(layer2) == {"ab", "de", "kassaid", "kassatoken", "check_type", "test"}
    assert layer2["kassaid"] == "123456"
    assert layer2["kassatoken"] == "test-token-0123456789"
    assert layer2["check_type"] == "standart"
    assert layer2["test"] == "0"
    assert inner == receipt


def test_seal_options_reach_layer_2(server_keys: ServerKeys) -> None:
    body = seal(
        sample_receipt(), server_keys.public(), kassaid="9", kassatoken="t", test=True, rid="order-1:a", wait=2.5
    )
    assert body["test"] == "1"
    layer2, _ = server_keys.open_body(body)
    assert (layer2["test"], layer2["rid"], layer2["wait"]) == ("1", "order-1:a", 2.5)
    layer2, _ = server_keys.open_body(
        seal({}, server_keys.public(), kassaid="9", kassatoken="t", wait=5, check_type=None)
    )
    assert layer2["wait"] == 5 and isinstance(layer2["wait"], int)
    assert "check_type" not in layer2 and "rid" not in layer2  # as older clients send it


def test_seal_takes_raw_bytes_for_malformed_layer_1(server_keys: ServerKeys) -> None:
    body = seal(b"not json", server_keys.public(), kassaid="1", kassatoken="t")
    layer2 = json.loads(
        ServerKeys.decrypt_layer(server_keys.rsa_second, server_keys.hmac_second, body["aab"], body["dde"])
    )
    assert ServerKeys.decrypt_layer(server_keys.rsa_first, server_keys.hmac_first, layer2["ab"], layer2["de"]) == (
        b"not json"
    )


def test_layer2_and_outer_body_can_be_built_separately(server_keys: ServerKeys) -> None:
    keys = server_keys.public()
    payload = layer2_payload("AB", "DE", kassaid="1", kassatoken="t", rid="r")
    del payload["ab"]  # a malformed layer 2 (code 110 on the server)
    body = outer_body(encode_json(payload), keys, test=False)
    opened = json.loads(
        ServerKeys.decrypt_layer(server_keys.rsa_second, server_keys.hmac_second, body["aab"], body["dde"])
    )
    assert opened == {"de": "DE", "kassaid": "1", "kassatoken": "t", "check_type": "standart", "test": "0", "rid": "r"}
    with pytest.raises(ValueError, match="wait must be >= 0"):
        layer2_payload("a", "b", kassaid="1", kassatoken="t", wait=-1)


def test_utf8_json_is_compact_and_unescaped() -> None:
    assert encode_json({"name_tovar": "Чай", "n": 1}) == '{"name_tovar":"Чай","n":1}'.encode()


def test_public_keys_parsing(server_keys: ServerKeys) -> None:
    published = server_keys.public_json()
    keys = PublicKeys.from_json({**published, "generation": "2"})
    assert keys.hmac_first == server_keys.hmac_first
    assert "BEGIN" not in repr(keys) and repr(server_keys.hmac_first) not in repr(keys)
    for name, value, message in [
        ("rsa_first", "garbage", "rsa_first: not a PEM public key"),
        ("rsa_second", None, "rsa_second: expected a PEM string"),
        ("hmac_first", "***", "hmac_first: not base64"),
        ("hmac_second", "", "hmac_second: empty key"),
    ]:
        with pytest.raises(KeysError, match=message.replace("(", r"\(")):
            PublicKeys.from_json({**published, name: value})
    with pytest.raises(KeysError, match="not a JSON object"):
        PublicKeys.from_json(["x"])


def test_client_never_imports_the_server() -> None:
    code = (
        "import sys, kassagate.client, kassagate.client.http, kassagate.client.envelope;"
        "bad = [m for m in sys.modules if m.startswith(('kassagate.front', 'kassagate.storage'))];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
