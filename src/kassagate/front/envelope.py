"""The double envelope of the front protocol (``docs/front.md``), server side.

Each layer: ``key`` = base64(RSA-OAEP-SHA1(K)), ``data`` = base64(M ‖ IV ‖ C) with
M = HMAC-SHA512(hmac key, IV ‖ C) and C = AES-256-CTR(K, P), IV the full 128-bit initial
counter block. :func:`open_envelope` undoes both layers; it is pure CPU and runs in the
crypto worker processes (``kassagate.front.crypto``), where the private keys live.

The outcome is a plain tuple (cheap to pickle): ``(stage, detail, layer2, layer1)`` where
``stage`` is one of :data:`OK`, :data:`OUTER_RSA`, :data:`OUTER_HMAC`, :data:`OUTER_NOT_OBJECT`,
:data:`INNER_MISSING`, :data:`INNER_RSA`, :data:`INNER_HMAC`. On :data:`OK`, ``layer1`` is the
decoded receipt JSON (any JSON value; ``None`` plus ``detail`` when it is not JSON at all).
"""

from __future__ import annotations

import binascii
import hmac
from hashlib import sha512
from typing import Any

import msgspec
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

MAC_LEN = 64
IV_LEN = 16
AES_KEY_LEN = 32
#: M ‖ IV ‖ C with C at least 2 bytes ("{}")
MIN_DATA_LEN = MAC_LEN + IV_LEN + 2

OK = "ok"
OUTER_RSA = "outer_rsa"
OUTER_HMAC = "outer_hmac"
OUTER_NOT_OBJECT = "outer_not_object"
INNER_MISSING = "inner_missing"
INNER_RSA = "inner_rsa"
INNER_HMAC = "inner_hmac"

OAEP = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303

_decoder = msgspec.json.Decoder()

Opened = tuple[str, str, dict[str, Any] | None, Any]


class Layer:
    """The RSA private keys and HMAC keys of one layer, newest generation first."""

    def __init__(self, rsa_keys: list[rsa.RSAPrivateKey], hmac_keys: list[bytes]) -> None:
        self.rsa_keys = rsa_keys
        self.hmac_keys = hmac_keys
        self.sizes = frozenset((k.key_size + 7) // 8 for k in rsa_keys)

    @classmethod
    def from_pems(cls, pems: list[bytes], hmac_keys: list[bytes]) -> Layer:
        keys = []
        for pem in pems:
            key = serialization.load_pem_private_key(pem, password=None)
            if not isinstance(key, rsa.RSAPrivateKey):
                raise ValueError("not an RSA private key")
            keys.append(key)
        return cls(keys, hmac_keys)


def b64decode_lenient(value: str) -> bytes | None:
    """Standard base64 as clients produce it: line breaks and a missing padding tolerated,
    spaces read as ``+`` (a form encoding that was not URL-escaped), the URL-safe alphabet
    accepted. None when it is not base64."""
    # Most clients send exactly standard base64: decoded in one pass when it is.
    try:
        return binascii.a2b_base64(value.encode("ascii"), strict_mode=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return _b64decode_tolerant(value)


def _b64decode_tolerant(value: str) -> bytes | None:
    """``b64decode_lenient`` for anything that is not strict standard base64."""
    s = value.replace("\r", "").replace("\n", "").replace("\t", "").replace(" ", "+")
    if "-" in s or "_" in s:
        s = s.replace("-", "+").replace("_", "/")
    s = s.rstrip("=")
    if len(s) % 4 == 1:
        return None
    s += "=" * (-len(s) % 4)
    try:
        return binascii.a2b_base64(s.encode("ascii"), strict_mode=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def _rsa_unwrap(layer: Layer, wrapped: bytes) -> tuple[bytes, int] | None:
    for index, key in enumerate(layer.rsa_keys):
        if (key.key_size + 7) // 8 != len(wrapped):
            continue
        try:
            k = key.decrypt(wrapped, OAEP)
        except ValueError:
            continue
        if len(k) == AES_KEY_LEN:
            return k, index
    return None


def _verify_and_decrypt(layer: Layer, index: int, k: bytes, data: bytes) -> bytes | None:
    mac, body = data[:MAC_LEN], data[MAC_LEN:]
    # The generation whose RSA key worked first, then any other accepted generation.
    order = [index, *[i for i in range(len(layer.hmac_keys)) if i != index]]
    for i in order:
        if i < len(layer.hmac_keys) and hmac.compare_digest(hmac.new(layer.hmac_keys[i], body, sha512).digest(), mac):
            break
    else:
        return None
    iv, c = body[:IV_LEN], body[IV_LEN:]
    dec = Cipher(algorithms.AES(k), modes.CTR(iv)).decryptor()
    return dec.update(c) + dec.finalize()


def decrypt_layer(layer: Layer, wrapped_key: bytes, data: bytes) -> tuple[str, bytes]:
    """``("ok", plaintext)``, ``("rsa", b"")`` or ``("hmac", b"")``."""
    unwrapped = _rsa_unwrap(layer, wrapped_key)
    if unwrapped is None:
        return "rsa", b""
    plain = _verify_and_decrypt(layer, unwrapped[1], unwrapped[0], data)
    if plain is None:
        return "hmac", b""
    return "ok", plain


def _decode_json(raw: bytes) -> tuple[Any, str]:
    try:
        return _decoder.decode(raw), ""
    except (msgspec.DecodeError, RecursionError, ValueError) as exc:
        return None, f"not valid UTF-8 JSON ({exc})"


def _field_bytes(layer2: dict[str, Any], name: str) -> bytes | None:
    value = layer2.get(name)
    if not isinstance(value, str) or not value:
        return None
    return b64decode_lenient(value)


def open_envelope(first: Layer, second: Layer, aab: bytes, dde: bytes) -> Opened:
    """Undo layer 2 (``aab``/``dde``) and then layer 1 (``ab``/``de`` inside it)."""
    status, plain2 = decrypt_layer(second, aab, dde)
    if status == "rsa":
        return OUTER_RSA, "aab does not decrypt with the published rsa_second key (RSA-OAEP-SHA1)", None, None
    if status == "hmac":
        return OUTER_HMAC, "the HMAC-SHA512 of dde does not verify with the published hmac_second key", None, None
    layer2, err = _decode_json(plain2)
    if not isinstance(layer2, dict):
        why = err or f"layer 2 is JSON {type(layer2).__name__}, expected an object"
        return OUTER_NOT_OBJECT, why, None, None
    ab = _field_bytes(layer2, "ab")
    de = _field_bytes(layer2, "de")
    missing = [n for n, v in (("ab", ab), ("de", de)) if v is None]
    if missing:
        return INNER_MISSING, f"layer 2 lacks {' and '.join(missing)} or they are not base64 strings", layer2, None
    assert ab is not None and de is not None
    if len(ab) not in first.sizes:
        sizes = "/".join(str(s) for s in sorted(first.sizes))
        return INNER_MISSING, f"ab decodes to {len(ab)} bytes, expected {sizes} (the RSA modulus size)", layer2, None
    if len(de) < MIN_DATA_LEN:
        return INNER_MISSING, f"de decodes to {len(de)} bytes, at least {MIN_DATA_LEN} expected", layer2, None
    status, plain1 = decrypt_layer(first, ab, de)
    if status == "rsa":
        return INNER_RSA, "ab does not decrypt with the published rsa_first key (RSA-OAEP-SHA1)", layer2, None
    if status == "hmac":
        return INNER_HMAC, "the HMAC-SHA512 of de does not verify with the published hmac_first key", layer2, None
    layer1, err = _decode_json(plain1)
    return OK, err, layer2, layer1
