"""Sign-in for the cabinet: Argon2id password hashes, signed session cookies, CSRF tokens,
slowed repeated failures.

- Passwords: ``argon2-cffi``'s :class:`~argon2.PasswordHasher` (Argon2id, its default
  memory-hard parameters), hashed and checked in a worker thread so that the event loop
  (and the intake it serves) never waits for it.
- The session cookie is the JSON ``{"u": user id, "e": session epoch, "c": CSRF token,
  "x": expiry}`` signed with HMAC (``itsdangerous``) under a key kept in the data dir
  (``cabinet-secret.key``, mode 0600). It is ``HttpOnly``, ``SameSite=Lax`` and scoped to
  ``/cabinet``. A visitor who has not signed in gets one without a user (it carries the
  CSRF token of the sign-in form). A cookie whose signature, expiry or epoch does not
  hold is ignored; changing the password or disabling the user changes the epoch.
- Every form that changes something carries the session's CSRF token; a POST without it
  (or with another) is refused with 403.
- After :data:`FREE_FAILURES` failed sign-ins for a login, each further attempt for it
  waits ``0.5 s × 2^(n − FREE_FAILURES)`` (at most :data:`MAX_DELAY`) before the password is
  checked, in this process. An attempt counts as failed from its start (so that attempts
  sent in parallel wait too); a success clears the count.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import argon2
from itsdangerous import BadSignature, URLSafeSerializer

SESSION_COOKIE = "kg_session"
SESSION_TTL = 12 * 3600.0
FREE_FAILURES = 3
MAX_DELAY = 8.0
_TRACKED_LOGINS = 10_000

_hasher = argon2.PasswordHasher()
#: Checked when the login does not exist, so that the answer takes as long as for a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    """The Argon2id PHC string of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (``None``: a login that does not exist)."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    return await asyncio.to_thread(verify_password, password_hash, password)


def load_secret(data_dir: Path) -> bytes:
    """The cookie signing key, created on first use (``<data dir>/cabinet-secret.key``)."""
    path = Path(data_dir) / "cabinet-secret.key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    for _ in range(50):  # another process may be writing it this very moment
        key = path.read_text().strip()
        if len(key) == 64:
            return key.encode()
        time.sleep(0.01)
    raise RuntimeError(f"{path} does not hold a signing key: remove it and start again")


@dataclass(frozen=True, slots=True)
class Session:
    user_id: int | None
    epoch: int
    csrf: str
    expires: float


class Sessions:
    """Signs and reads session cookies."""

    def __init__(self, secret: bytes, *, ttl: float = SESSION_TTL, clock: Callable[[], float] = time.time) -> None:
        self._s = URLSafeSerializer(secret, salt="kassagate.cabinet.session")
        self.ttl = ttl
        self.clock = clock

    def new(self, user_id: int | None = None, epoch: int = 0) -> Session:
        return Session(user_id, epoch, secrets.token_urlsafe(24), self.clock() + self.ttl)

    def dump(self, session: Session) -> str:
        return str(self._s.dumps({"u": session.user_id, "e": session.epoch, "c": session.csrf, "x": session.expires}))

    def load(self, cookie: str | None) -> Session | None:
        """The session in ``cookie``, or ``None`` when it is missing, forged or expired."""
        if not cookie or len(cookie) > 1024:
            return None
        try:
            data = self._s.loads(cookie)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        uid, epoch, csrf, expires = data.get("u"), data.get("e"), data.get("c"), data.get("x")
        if not (uid is None or isinstance(uid, int)) or not isinstance(epoch, int) or not isinstance(csrf, str):
            return None
        if not isinstance(expires, int | float) or expires <= self.clock():
            return None
        return Session(uid, epoch, csrf, float(expires))


def csrf_ok(session: Session | None, token: str | None) -> bool:
    return session is not None and bool(token) and hmac.compare_digest(session.csrf, token or "")


class Throttle:
    """Counts failed sign-ins per login (in memory, the most recent logins only)."""

    def __init__(self, *, free: int = FREE_FAILURES, base: float = 0.5, cap: float = MAX_DELAY) -> None:
        self.free, self.base, self.cap = free, base, cap
        self._failures: OrderedDict[str, int] = OrderedDict()

    def delay(self, login: str) -> float:
        """How long the next attempt for ``login`` waits."""
        n = self._failures.get(login.lower(), 0)
        return 0.0 if n < self.free else min(self.cap, self.base * 2 ** (n - self.free))

    def attempt(self, login: str) -> float:
        """Start an attempt: how long it must wait; it counts as failed until :meth:`succeeded`."""
        wait = self.delay(login)
        key = login.lower()
        self._failures[key] = self._failures.pop(key, 0) + 1
        while len(self._failures) > _TRACKED_LOGINS:
            self._failures.popitem(last=False)
        return wait

    def succeeded(self, login: str) -> None:
        self._failures.pop(login.lower(), None)
