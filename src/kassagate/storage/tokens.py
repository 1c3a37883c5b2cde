"""Secret tokens of kassas and clusters: stored only as keyed, salted hashes.

A token is stored as ``hmac_sha256$<hex>``: HMAC-SHA256 under the installation's *token
key* of a random 16-byte salt (the ``token_salt`` column) followed by the token. The token
key is 32 random bytes kept in a file beside the front server's private keys, never in the
database (``kassagate.front.keys.load_or_create_token_key``): a copy of the database alone
lets no one test guesses, and a check costs one HMAC (a few microseconds), so wrong tokens
are no way to load the server. Tokens are machine secrets with at least 128 random bits
(:func:`new_token`; a token typed by hand has at least :data:`MIN_TOKEN_LENGTH`
characters), which is what makes a fast hash enough. Comparison is constant time
(``hmac.compare_digest``).

:class:`TokenVerifier` checks a token against an account, or against a dummy hash when
there is no such account, so that "no such kassa" and "wrong token" cost the same.

Rows in the PBKDF2 form ``pbkdf2_sha256$<iterations>$<hex>`` (no token key) are still
accepted: they are checked the slow way, off the event loop, one at a time, and the first
good token rewrites the row in the HMAC form (:meth:`TokenVerifier.verify` says so).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass

#: The shortest token ``kassa add``/``cluster add`` accept from an operator.
MIN_TOKEN_LENGTH = 16
#: Random bytes of a generated token (192 bits; 32 URL-safe characters).
TOKEN_BYTES = 24
TOKEN_KEY_BYTES = 32
PBKDF2_ITERATIONS = 60_000
_SCHEME = "hmac_sha256"
_PBKDF2_SCHEME = "pbkdf2_sha256"


def new_token() -> str:
    """A fresh token: :data:`TOKEN_BYTES` random bytes, URL-safe base64."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_token_key() -> bytes:
    return secrets.token_bytes(TOKEN_KEY_BYTES)


def _mac(key: bytes, salt: bytes, token: str) -> bytes:
    return hmac.new(key, salt + token.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()


def hash_token(token: str, key: bytes, *, salt: str | None = None) -> tuple[str, str]:
    """Return ``(salt_hex, token_hash)`` for ``token`` under the token ``key``."""
    salt = salt or secrets.token_hex(16)
    return salt, f"{_SCHEME}${_mac(key, bytes.fromhex(salt), token).hex()}"


def hash_token_pbkdf2(token: str, *, salt: str | None = None, iterations: int = PBKDF2_ITERATIONS) -> tuple[str, str]:
    """``(salt_hex, token_hash)`` in the PBKDF2 form (no token key), which
    :func:`verify_token` still accepts."""
    salt = salt or secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", token.encode("utf-8"), bytes.fromhex(salt), iterations)
    return salt, f"{_PBKDF2_SCHEME}${iterations}${digest.hex()}"


def is_pbkdf2(token_hash: str) -> bool:
    return token_hash.startswith(_PBKDF2_SCHEME + "$")


def verify_token(token: str, salt: str, token_hash: str, key: bytes) -> bool:
    """Constant-time check of ``token`` against a stored ``(salt, token_hash)`` in either
    form (the PBKDF2 form is slow: tens of milliseconds)."""
    try:
        salt_bytes = bytes.fromhex(salt)
        scheme, rest = token_hash.split("$", 1)
        if scheme == _SCHEME:
            return hmac.compare_digest(_mac(key, salt_bytes, token).hex(), rest)
        iterations_s, expected_hex = rest.split("$", 1)
        iterations = int(iterations_s)
    except ValueError:
        return False
    if scheme != _PBKDF2_SCHEME or iterations <= 0:
        return False
    digest = hashlib.pbkdf2_hmac("sha256", token.encode("utf-8", "surrogatepass"), salt_bytes, iterations)
    return hmac.compare_digest(digest.hex(), expected_hex)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of one check. ``rehashed``: the token was good against a row in the
    PBKDF2 form; ``(salt, token_hash)`` is its HMAC form, to store in place of the old one."""

    ok: bool
    rehashed: tuple[str, str] | None = None


class TokenVerifier:
    """Checks tokens under one token key.

    HMAC rows are checked on the caller's thread (microseconds). PBKDF2 rows are checked in
    a thread, one at a time for the whole process: wrong tokens sent to such a row can keep
    one core busy at most, never all of them."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._dummy = hash_token(secrets.token_urlsafe(TOKEN_BYTES), key)
        self._slow = asyncio.Semaphore(1)

    def check(self, token: str, salt: str | None, token_hash: str | None) -> bool:
        """The HMAC check, or one against a dummy hash (always False) when ``salt`` or
        ``token_hash`` is None (no such account) or the row is in the PBKDF2 form."""
        if salt is None or token_hash is None or is_pbkdf2(token_hash):
            salt, token_hash = self._dummy
            verify_token(token, salt, token_hash, self._key)
            return False
        return verify_token(token, salt, token_hash, self._key)

    async def verify(self, token: str, salt: str | None, token_hash: str | None) -> Verdict:
        """Check ``token`` against a stored ``(salt, token_hash)``; both None: no such
        account (the same work is done, and the answer is no)."""
        if token_hash is None or salt is None or not is_pbkdf2(token_hash):
            return Verdict(self.check(token, salt, token_hash))
        async with self._slow:
            ok = await asyncio.to_thread(verify_token, token, salt, token_hash, self._key)
        return Verdict(True, hash_token(token, self._key)) if ok else Verdict(False)
