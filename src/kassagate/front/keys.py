"""The front server's keys: two RSA pairs and two HMAC keys (``docs/front.md``, "Keys").

Layout under the data dir::

    keys/current/   rsa_first.pem rsa_second.pem (PKCS#8, mode 0600), hmac_first hmac_second
                    (base64), generation (an id that changes on every rotation)
    keys/previous/  the same files for the generation before, plus ``valid_until`` (Unix
                    seconds): accepted for decryption until then, never published
    keys/token_key  the token key (base64 of 32 random bytes, mode 0600): the key of the
                    HMAC under which kassa and cluster tokens are stored
                    (``storage/tokens.py``). It does not rotate with the RSA keys. Without
                    it a copy of the database cannot test guesses; lost, no token verifies.

Rotation (:func:`rotate_keys`, ``kassagate keys rotate``) moves ``current`` to ``previous``
with a grace period and generates a new ``current``. A running server notices the new
``generation`` within a second and accepts both generations until the grace ends.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_FILES = ("rsa_first.pem", "rsa_second.pem", "hmac_first", "hmac_second", "generation")
DEFAULT_GRACE_HOURS = 24.0


class KeyFilesError(RuntimeError):
    """The key files are unusable (the message names the file, never its content)."""


@dataclass(frozen=True)
class KeyMaterial:
    """One generation: private keys as PEM bytes (to hand to worker processes) and HMAC keys."""

    generation: str
    rsa_first_pem: bytes
    rsa_second_pem: bytes
    hmac_first: bytes
    hmac_second: bytes

    def public_json(self) -> dict[str, str]:
        """The published form (``GET /v1/keys``)."""
        return {
            "rsa_first": _public_pem(self.rsa_first_pem),
            "hmac_first": base64.b64encode(self.hmac_first).decode("ascii"),
            "rsa_second": _public_pem(self.rsa_second_pem),
            "hmac_second": base64.b64encode(self.hmac_second).decode("ascii"),
        }

    def rsa_sizes(self) -> tuple[int, int]:
        """Byte sizes of the first and second modulus (the length of a valid ``ab``/``aab``)."""
        pub = self.public_json()
        first = serialization.load_pem_public_key(pub["rsa_first"].encode("ascii"))
        second = serialization.load_pem_public_key(pub["rsa_second"].encode("ascii"))
        assert isinstance(first, rsa.RSAPublicKey) and isinstance(second, rsa.RSAPublicKey)
        return (first.key_size + 7) // 8, (second.key_size + 7) // 8


@dataclass(frozen=True)
class KeyRing:
    """The keys a server accepts: the current generation, and the previous one in its grace."""

    current: KeyMaterial
    previous: KeyMaterial | None = None
    previous_until: float | None = None

    def accepted(self, now: float | None = None) -> list[KeyMaterial]:
        now = time.time() if now is None else now
        out = [self.current]
        if self.previous is not None and self.previous_until is not None and now < self.previous_until:
            out.append(self.previous)
        return out


@functools.lru_cache(maxsize=16)
def _public_pem(private_pem: bytes) -> str:
    # Cached: loading a private key validates it (about 75 ms for 2048 bits, 500 ms for 4096
    # on the event loop), and GET /v1/keys asks for the public keys on every call.
    key = serialization.load_pem_private_key(private_pem, password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def _write_file(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(path.name + f".tmp{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _generate(directory: Path, bits: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    for name in ("rsa_first.pem", "rsa_second.pem"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _write_file(directory / name, pem, 0o600)
    for name in ("hmac_first", "hmac_second"):
        _write_file(directory / name, base64.b64encode(secrets.token_bytes(32)) + b"\n", 0o600)
    # The generation id is written last: a directory with it is complete.
    _write_file(directory / "generation", secrets.token_hex(8).encode("ascii") + b"\n", 0o600)


def _load(directory: Path) -> KeyMaterial:
    try:
        return KeyMaterial(
            generation=(directory / "generation").read_text().strip(),
            rsa_first_pem=(directory / "rsa_first.pem").read_bytes(),
            rsa_second_pem=(directory / "rsa_second.pem").read_bytes(),
            hmac_first=base64.b64decode((directory / "hmac_first").read_bytes().strip(), validate=True),
            hmac_second=base64.b64decode((directory / "hmac_second").read_bytes().strip(), validate=True),
        )
    except (OSError, ValueError) as exc:
        raise KeyFilesError(f"key files in {directory} are unreadable or damaged ({type(exc).__name__})") from None


def keys_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "keys"


def current_generation(data_dir: Path) -> str | None:
    """The id of the current generation (cheap: one small file), None when there is none."""
    try:
        return (keys_dir(data_dir) / "current" / "generation").read_text().strip() or None
    except OSError:
        return None


def load_keys(data_dir: Path) -> KeyRing:
    base = keys_dir(data_dir)
    current = _load(base / "current")
    previous: KeyMaterial | None = None
    until: float | None = None
    prev_dir = base / "previous"
    if (prev_dir / "generation").exists():
        try:
            until = float((prev_dir / "valid_until").read_text().strip())
        except (OSError, ValueError):
            until = None
        if until is not None and time.time() < until:
            previous = _load(prev_dir)
        else:
            until = None
    return KeyRing(current=current, previous=previous, previous_until=until)


def load_or_create_keys(data_dir: Path, bits: int) -> KeyRing:
    """The key ring of ``data_dir``, generating the keys on first start."""
    base = keys_dir(data_dir)
    current = base / "current"
    if not (current / "generation").exists():
        base.mkdir(parents=True, exist_ok=True)
        os.chmod(base, 0o700)
        staging = base / f".new-{secrets.token_hex(4)}"
        _generate(staging, bits)
        try:
            os.rename(staging, current)  # atomic; loses the race if another process won it
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
    return load_keys(data_dir)


TOKEN_KEY_FILE = "token_key"  # noqa: S105 - a file name


def load_or_create_token_key(data_dir: Path) -> bytes:
    """The token key of ``data_dir`` (``keys/token_key``), generated on first use."""
    from kassagate.storage.tokens import TOKEN_KEY_BYTES, new_token_key

    base = keys_dir(data_dir)
    path = base / TOKEN_KEY_FILE
    if not path.exists():
        base.mkdir(parents=True, exist_ok=True)
        os.chmod(base, 0o700)
        staging = base / f".{TOKEN_KEY_FILE}-{secrets.token_hex(4)}"
        _write_file(staging, base64.b64encode(new_token_key()) + b"\n", 0o600)
        try:
            os.link(staging, path)  # never replaces a key another process wrote first
        except FileExistsError:
            pass
        finally:
            staging.unlink()
    try:
        key = base64.b64decode(path.read_bytes().strip(), validate=True)
    except (OSError, ValueError) as exc:
        raise KeyFilesError(f"the token key {path} is unreadable or damaged ({type(exc).__name__})") from None
    if len(key) != TOKEN_KEY_BYTES:
        raise KeyFilesError(f"the token key {path} is damaged (not {TOKEN_KEY_BYTES} bytes)")
    return key


def rotate_keys(data_dir: Path, bits: int, grace_hours: float = DEFAULT_GRACE_HOURS) -> KeyRing:
    """Make a new current generation; the old one stays accepted for ``grace_hours``."""
    if grace_hours < 0:
        raise ValueError("grace_hours must be >= 0")
    base = keys_dir(data_dir)
    load_or_create_keys(data_dir, bits)
    staging = base / f".new-{secrets.token_hex(4)}"
    _generate(staging, bits)
    prev = base / "previous"
    old_prev = base / f".old-{secrets.token_hex(4)}"
    if prev.exists():
        os.rename(prev, old_prev)
    os.rename(base / "current", prev)
    _write_file(prev / "valid_until", f"{time.time() + grace_hours * 3600:.3f}\n".encode(), 0o600)
    os.rename(staging, base / "current")
    shutil.rmtree(old_prev, ignore_errors=True)
    return load_keys(data_dir)


def describe(ring: KeyRing) -> str:
    """A human summary without any key material."""
    info = {"current_generation": ring.current.generation}
    if ring.previous is not None and ring.previous_until is not None:
        info["previous_generation"] = ring.previous.generation
        info["previous_accepted_until"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ring.previous_until))
    return json.dumps(info)


