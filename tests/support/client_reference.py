"""Reference server side for the client tests: an independent implementation of the
decryption of the double envelope (``docs/front.md``), written here with `cryptography` only (AES-CTR built by
hand from AES-ECB), to check what the client library builds."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from kassagate.client import PublicKeys


class LayerError(Exception):
    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what  # "rsa", "hmac", "format"


def _ctr_keystream_decrypt(k: bytes, iv: bytes, data: bytes) -> bytes:
    """AES-256-CTR computed by hand from AES-ECB: counter block i = (IV + i) mod 2^128."""
    ecb = Cipher(algorithms.AES(k), modes.ECB()).encryptor()  # noqa: S305 - building CTR by hand
    counter = int.from_bytes(iv, "big")
    out = bytearray()
    for offset in range(0, len(data), 16):
        block = ((counter + offset // 16) % (1 << 128)).to_bytes(16, "big")
        stream = ecb.update(block)
        chunk = data[offset : offset + 16]
        out += bytes(a ^ b for a, b in zip(chunk, stream, strict=False))
    return bytes(out)


@dataclass
class ServerKeys:
    rsa_first: rsa.RSAPrivateKey
    hmac_first: bytes
    rsa_second: rsa.RSAPrivateKey
    hmac_second: bytes

    def public_json(self) -> dict[str, str]:
        def pem(key: rsa.RSAPrivateKey) -> str:
            return (
                key.public_key()
                .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
                .decode("ascii")
            )

        return {
            "rsa_first": pem(self.rsa_first),
            "hmac_first": base64.b64encode(self.hmac_first).decode("ascii"),
            "rsa_second": pem(self.rsa_second),
            "hmac_second": base64.b64encode(self.hmac_second).decode("ascii"),
        }

    def public(self) -> PublicKeys:
        return PublicKeys.from_json(self.public_json())

    @staticmethod
    def decrypt_layer(private: rsa.RSAPrivateKey, hmac_key: bytes, key_b64: str, data_b64: str) -> bytes:
        try:
            wrapped = base64.b64decode(key_b64, validate=True)
            data = base64.b64decode(data_b64, validate=True)
        except ValueError as exc:
            raise LayerError("format") from exc
        try:
            k = private.decrypt(
                wrapped,
                padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None),  # noqa: S303
            )
        except ValueError as exc:
            raise LayerError("rsa") from exc
        if len(data) < 80:
            raise LayerError("format")
        mac, iv, c = data[:64], data[64:80], data[80:]
        if not hmac.compare_digest(mac, hmac.new(hmac_key, iv + c, hashlib.sha512).digest()):
            raise LayerError("hmac")
        return _ctr_keystream_decrypt(k, iv, c)

    def open_body(self, body: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        """(layer 2 object, receipt object) of a wire body."""
        layer2 = json.loads(self.decrypt_layer(self.rsa_second, self.hmac_second, body["aab"], body["dde"]))
        receipt = json.loads(self.decrypt_layer(self.rsa_first, self.hmac_first, layer2["ab"], layer2["de"]))
        return layer2, receipt


def make_server_keys() -> ServerKeys:
    return ServerKeys(
        rsa_first=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        hmac_first=os.urandom(32),
        rsa_second=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        hmac_second=os.urandom(32),
    )
