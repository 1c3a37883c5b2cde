"""The double envelope of the front protocol (see ``docs/front.md``), built from the published keys.

Each layer is a hybrid encryption of a UTF-8 JSON text P:

1. K = 32 random bytes (AES-256 key), IV = 16 random bytes;
2. C = AES-256-CTR(K, P), IV as the full 128-bit initial counter block, no padding;
3. M = HMAC-SHA512(layer HMAC key, IV ‖ C);
4. data = base64(M ‖ IV ‖ C);
5. key = base64(RSA-OAEP(layer RSA public key, K)), OAEP with SHA-1 and MGF1-SHA-1.

Layer 1 carries the receipt (``ab``/``de``, first key pair), layer 2 carries ``ab``, ``de``
and the account (``aab``/``dde``, second key pair). The functions are public so that tests
can build malformed variants (a chosen K or IV, a flipped bit, a layer 2 without ``ab``).

This module encrypts only; it shares no code with the server's decryption.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from hashlib import sha512
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = [
    "AES_KEY_BYTES",
    "HMAC_BYTES",
    "IV_BYTES",
    "KeysError",
    "PublicKeys",
    "encode_json",
    "encrypt_layer",
    "layer2_payload",
    "load_rsa_public_key",
    "outer_body",
    "seal",
]

AES_KEY_BYTES = 32
IV_BYTES = 16
HMAC_BYTES = 64
#: Layer 2's ``check_type`` as existing clients send it.
DEFAULT_CHECK_TYPE = "standart"

_OAEP = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303


class KeysError(ValueError):
    """The published keys are not usable (not PEM RSA public keys, HMAC keys not base64)."""


def load_rsa_public_key(pem: str | bytes | rsa.RSAPublicKey) -> rsa.RSAPublicKey:
    """An RSA public key from its PEM (SubjectPublicKeyInfo or PKCS#1)."""
    if isinstance(pem, rsa.RSAPublicKey):
        return pem
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise KeysError(f"not a PEM public key: {exc}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeysError(f"expected an RSA public key, got {type(key).__name__}")
    return key


@dataclass(frozen=True)
class PublicKeys:
    """The server's published keys (``GET /v1/keys``)."""

    rsa_first: rsa.RSAPublicKey = field(repr=False)
    hmac_first: bytes = field(repr=False)
    rsa_second: rsa.RSAPublicKey = field(repr=False)
    hmac_second: bytes = field(repr=False)

    @classmethod
    def from_json(cls, obj: Any) -> PublicKeys:
        """From the JSON answer of ``GET /v1/keys``: ``rsa_first``, ``hmac_first`` (base64),
        ``rsa_second``, ``hmac_second``. Other fields are ignored."""
        if not isinstance(obj, Mapping):
            raise KeysError("the keys answer is not a JSON object")
        values: dict[str, Any] = {}
        for name in ("rsa_first", "rsa_second"):
            pem = obj.get(name)
            if not isinstance(pem, str):
                raise KeysError(f"{name}: expected a PEM string")
            try:
                values[name] = load_rsa_public_key(pem)
            except KeysError as exc:
                raise KeysError(f"{name}: {exc}") from None
        for name in ("hmac_first", "hmac_second"):
            text = obj.get(name)
            if not isinstance(text, str):
                raise KeysError(f"{name}: expected a base64 string")
            try:
                values[name] = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                raise KeysError(f"{name}: not base64") from None
            if not values[name]:
                raise KeysError(f"{name}: empty key")
        return cls(**values)

    @classmethod
    def from_pems(
        cls,
        rsa_first: str | bytes | rsa.RSAPublicKey,
        hmac_first: bytes,
        rsa_second: str | bytes | rsa.RSAPublicKey,
        hmac_second: bytes,
    ) -> PublicKeys:
        return cls(load_rsa_public_key(rsa_first), hmac_first, load_rsa_public_key(rsa_second), hmac_second)


def encode_json(obj: Any) -> bytes:
    """Compact UTF-8 JSON, non-ASCII kept as is (what PHP's ``JSON_UNESCAPED_UNICODE`` sends)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def encrypt_layer(
    plaintext: bytes,
    rsa_public: str | bytes | rsa.RSAPublicKey,
    hmac_key: bytes,
    *,
    aes_key: bytes | None = None,
    iv: bytes | None = None,
) -> tuple[str, str]:
    """One layer: returns ``(key_b64, data_b64)``. ``aes_key`` and ``iv`` default to fresh
    random bytes; tests may pass their own."""
    k = os.urandom(AES_KEY_BYTES) if aes_key is None else aes_key
    nonce = os.urandom(IV_BYTES) if iv is None else iv
    if len(k) != AES_KEY_BYTES:
        raise ValueError(f"aes_key must be {AES_KEY_BYTES} bytes")
    if len(nonce) != IV_BYTES:
        raise ValueError(f"iv must be {IV_BYTES} bytes")
    encryptor = Cipher(algorithms.AES(k), modes.CTR(nonce)).encryptor()
    ciphertext = encryptor.update(plaintext) + encryptor.finalize()
    mac = hmac.new(hmac_key, nonce + ciphertext, sha512).digest()
    wrapped = load_rsa_public_key(rsa_public).encrypt(k, _OAEP)
    return (
        base64.b64encode(wrapped).decode("ascii"),
        base64.b64encode(mac + nonce + ciphertext).decode("ascii"),
    )


def layer2_payload(
    ab: str,
    de: str,
    *,
    kassaid: str,
    kassatoken: str,
    test: bool = False,
    rid: str | None = None,
    check_type: str | None = DEFAULT_CHECK_TYPE,
    wait: float | None = None,
) -> dict[str, Any]:
    """The layer 2 JSON object. In cluster mode ``kassaid``/``kassatoken`` are the cluster's
    id and token. ``rid`` and ``check_type`` are left out when ``None`` (as older clients
    do); ``wait`` (kassagate's extension: seconds the server may wait for the fiscal data
    before answering) only when given."""
    payload: dict[str, Any] = {"ab": ab, "de": de, "kassaid": kassaid, "kassatoken": kassatoken}
    if check_type is not None:
        payload["check_type"] = check_type
    payload["test"] = "1" if test else "0"
    if rid is not None:
        payload["rid"] = rid
    if wait is not None:
        if wait < 0:
            raise ValueError("wait must be >= 0 seconds")
        payload["wait"] = int(wait) if float(wait).is_integer() else float(wait)
    return payload


def outer_body(layer2_plaintext: bytes, keys: PublicKeys, *, test: bool = False) -> dict[str, str]:
    """Encrypt a layer 2 plaintext into the wire body ``{"aab", "dde", "test"}``."""
    aab, dde = encrypt_layer(layer2_plaintext, keys.rsa_second, keys.hmac_second)
    return {"aab": aab, "dde": dde, "test": "1" if test else "0"}


def seal(
    receipt: Mapping[str, Any] | bytes,
    keys: PublicKeys,
    *,
    kassaid: str,
    kassatoken: str,
    test: bool = False,
    rid: str | None = None,
    check_type: str | None = DEFAULT_CHECK_TYPE,
    wait: float | None = None,
) -> dict[str, str]:
    """The whole request body: the receipt (a JSON object, or raw bytes for malformed tests)
    in layer 1, the account in layer 2."""
    plaintext = receipt if isinstance(receipt, bytes) else encode_json(receipt)
    ab, de = encrypt_layer(plaintext, keys.rsa_first, keys.hmac_first)
    layer2 = layer2_payload(
        ab, de, kassaid=kassaid, kassatoken=kassatoken, test=test, rid=rid, check_type=check_type, wait=wait
    )
    return outer_body(encode_json(layer2), keys, test=test)
