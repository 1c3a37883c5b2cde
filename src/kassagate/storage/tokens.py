"""Secret tokens of kassas and clusters: stored only as salted hashes.

The hash is PBKDF2-HMAC-SHA256 (``hashlib.pbkdf2_hmac``) with a random 16-byte salt and
:data:`PBKDF2_ITERATIONS` iterations, stored as ``pbkdf2_sha256$<iterations>$<hex>`` so that
the cost can be raised later without invalidating stored tokens. Comparison is constant
time (``hmac.compare_digest``).

:class:`TokenVerifier` adds a bounded in-memory cache of tokens already verified against a
given stored hash (kept as their SHA-256, compared in constant time), so that the key
stretching is paid once per token and process, not once per request.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections import OrderedDict

PBKDF2_ITERATIONS = 60_000
_SCHEME = "pbkdf2_sha256"


def hash_token(token: str, *, salt: str | None = None, iterations: int = PBKDF2_ITERATIONS) -> tuple[str, str]:
    """Return ``(salt_hex, token_hash)`` for ``token``."""
    salt = salt or secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", token.encode("utf-8"), bytes.fromhex(salt), iterations)
    return salt, f"{_SCHEME}${iterations}${digest.hex()}"


def verify_token(token: str, salt: str, token_hash: str) -> bool:
    """Constant-time check of ``token`` against a stored ``(salt, token_hash)``."""
    try:
        scheme, iterations_s, expected_hex = token_hash.split("$", 2)
        iterations = int(iterations_s)
        salt_bytes = bytes.fromhex(salt)
    except ValueError:
        return False
    if scheme != _SCHEME or iterations <= 0:
        return False
    digest = hashlib.pbkdf2_hmac("sha256", token.encode("utf-8", "surrogatepass"), salt_bytes, iterations)
    return hmac.compare_digest(digest.hex(), expected_hex)


class TokenVerifier:
    """Verifies tokens off the event loop, remembering the ones that matched."""

    def __init__(self, max_entries: int = 65_536) -> None:
        self._ok: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._max = max_entries

    async def verify(self, token: str, salt: str, token_hash: str) -> bool:
        key = (salt, token_hash)
        fingerprint = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        known = self._ok.get(key)
        if known is not None:
            # The stored hash names exactly one token; a different one is wrong.
            return hmac.compare_digest(known, fingerprint)
        ok = await asyncio.to_thread(verify_token, token, salt, token_hash)
        if ok:
            self._ok[key] = fingerprint
            if len(self._ok) > self._max:
                self._ok.popitem(last=False)
        return ok
