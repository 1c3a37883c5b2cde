"""Configuration: flags override environment variables, which override defaults
(``docs/operations.md``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_DATA_DIR = "./kassagate-data"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_RSA_BITS = 4096
ALLOWED_RSA_BITS = (2048, 3072, 4096)
DEFAULT_MAX_BODY = 1024 * 1024
DEFAULT_MAX_HEADER_BYTES = 32 * 1024
DEFAULT_MAX_HEADERS = 100
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 30.0
DEFAULT_MAX_CONNECTIONS = 1000
DEFAULT_MAX_QUEUE_DEPTH = 100_000
DEFAULT_MAX_PENDING_AGE_SECONDS = 300.0
LOG_FORMATS = ("text", "json")


class ConfigError(ValueError):
    """A setting has a value kassagate cannot use; the message says which and why."""


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """What one HTTP client can make a server hold (``kassagate.http_limits``)."""

    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES  # request line and headers
    max_headers: int = DEFAULT_MAX_HEADERS  # header lines
    header_timeout: float = DEFAULT_HEADER_TIMEOUT  # seconds for the request line and headers
    body_timeout: float = DEFAULT_BODY_TIMEOUT  # seconds for the body, after the headers
    max_connections: int = DEFAULT_MAX_CONNECTIONS  # open connections


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = field(default_factory=lambda: Path(DEFAULT_DATA_DIR))
    database_url: str | None = None  # None: SQLite in the data dir
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    rsa_bits: int = DEFAULT_RSA_BITS
    log_level: str = "INFO"
    max_body: int = DEFAULT_MAX_BODY
    http: HttpLimits = field(default_factory=HttpLimits)
    # -- backpressure (docs/operations.md, "Backpressure"); 0 turns a limit off
    max_queue_depth: int = DEFAULT_MAX_QUEUE_DEPTH
    max_pending_age_seconds: float = DEFAULT_MAX_PENDING_AGE_SECONDS
    kassa_rate: float = 0.0  # requests per second per kassa (or cluster)
    kassa_burst: int = 0  # the bucket's size; 0: twice the rate, at least 10
    # -- logs
    log_format: str = "text"  # text | json
    #: This installation's public address (``https://kassa.example.com``): the base of the
    #: URLs in status answers and ``check_kkt_operator``. Empty: the address a status request
    #: came to (``effective_public_url`` where there is no request: callbacks, waits).
    public_url: str = ""

    @property
    def effective_public_url(self) -> str:
        """``public_url``, or ``http://host:port`` when it is not set."""
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def effective_database_url(self) -> str:
        """The SQLAlchemy async URL of the service database."""
        url = self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'kassagate.sqlite3').resolve()}"
        return normalize_database_url(url)

    def with_overrides(self, **overrides: object) -> Settings:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


def normalize_database_url(url: str) -> str:
    """Accept the usual spellings and return an async SQLAlchemy URL."""
    for prefix, driver in (
        ("postgresql+asyncpg://", None),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite+aiosqlite://", None),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(prefix):
            return url if driver is None else driver + url[len(prefix):]
    raise ConfigError(
        "KASSAGATE_DATABASE_URL must start with postgresql:// or sqlite:// "
        f"(got a URL with scheme {url.split(':', 1)[0]!r})"
    )


def _int_env(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _float_env(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not value >= 0 or value == float("inf"):
        raise ConfigError(f"{name} must be a finite number >= 0, got {raw!r}")
    return value


def load_http_limits(env: dict[str, str] | None = None) -> HttpLimits:
    """The HTTP limits from the environment (``docs/operations.md``)."""
    env = dict(os.environ) if env is None else env
    limits = HttpLimits(
        max_header_bytes=_int_env(env, "KASSAGATE_MAX_HEADER_BYTES", DEFAULT_MAX_HEADER_BYTES),
        max_headers=_int_env(env, "KASSAGATE_MAX_HEADERS", DEFAULT_MAX_HEADERS),
        header_timeout=_float_env(env, "KASSAGATE_HEADER_TIMEOUT", DEFAULT_HEADER_TIMEOUT),
        body_timeout=_float_env(env, "KASSAGATE_BODY_TIMEOUT", DEFAULT_BODY_TIMEOUT),
        max_connections=_int_env(env, "KASSAGATE_MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS),
    )
    for name, value in (
        ("KASSAGATE_MAX_HEADER_BYTES", limits.max_header_bytes),
        ("KASSAGATE_MAX_HEADERS", limits.max_headers),
        ("KASSAGATE_HEADER_TIMEOUT", limits.header_timeout),
        ("KASSAGATE_BODY_TIMEOUT", limits.body_timeout),
        ("KASSAGATE_MAX_CONNECTIONS", limits.max_connections),
    ):
        if not value > 0:
            raise ConfigError(f"{name} must be greater than 0, got {value}")
    return limits


def load_settings(env: dict[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from the environment, then ``overrides`` (flags; ``None`` = not given)."""
    env = dict(os.environ) if env is None else env
    s = Settings(
        data_dir=Path(env.get("KASSAGATE_DATA_DIR") or DEFAULT_DATA_DIR),
        database_url=env.get("KASSAGATE_DATABASE_URL") or None,
        host=env.get("KASSAGATE_HOST") or DEFAULT_HOST,
        port=_int_env(env, "KASSAGATE_PORT", DEFAULT_PORT),
        rsa_bits=_int_env(env, "KASSAGATE_RSA_BITS", DEFAULT_RSA_BITS),
        log_level=(env.get("KASSAGATE_LOG_LEVEL") or "INFO").upper(),
        max_body=_int_env(env, "KASSAGATE_MAX_BODY", DEFAULT_MAX_BODY),
        http=load_http_limits(env),
        public_url=env.get("KASSAGATE_PUBLIC_URL") or "",
        max_queue_depth=_int_env(env, "KASSAGATE_MAX_QUEUE_DEPTH", DEFAULT_MAX_QUEUE_DEPTH),
        max_pending_age_seconds=_float_env(env, "KASSAGATE_MAX_PENDING_AGE_SECONDS", DEFAULT_MAX_PENDING_AGE_SECONDS),
        kassa_rate=_float_env(env, "KASSAGATE_KASSA_RATE", 0.0),
        kassa_burst=_int_env(env, "KASSAGATE_KASSA_BURST", 0),
        log_format=(env.get("KASSAGATE_LOG_FORMAT") or "text").lower(),
    )
    if "data_dir" in overrides and overrides["data_dir"] is not None:
        overrides["data_dir"] = Path(str(overrides["data_dir"]))
    s = s.with_overrides(**overrides)
    if s.rsa_bits not in ALLOWED_RSA_BITS:
        raise ConfigError(f"KASSAGATE_RSA_BITS must be one of {ALLOWED_RSA_BITS}, got {s.rsa_bits}")
    if not 0 < s.port < 65536:
        raise ConfigError(f"port must be 1-65535, got {s.port}")
    if s.max_queue_depth < 0 or s.kassa_burst < 0:
        raise ConfigError("KASSAGATE_MAX_QUEUE_DEPTH and KASSAGATE_KASSA_BURST must be >= 0")
    if s.log_format not in LOG_FORMATS:
        raise ConfigError(f"KASSAGATE_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, got {s.log_format!r}")
    s.effective_database_url  # noqa: B018 - validates the URL early
    if s.public_url:
        if not s.public_url.startswith(("http://", "https://")) or any(c in s.public_url for c in " ?#"):
            raise ConfigError(
                f"KASSAGATE_PUBLIC_URL must be an http:// or https:// address without query, got {s.public_url!r}"
            )
        s = replace(s, public_url=s.public_url.rstrip("/"))
    return s
