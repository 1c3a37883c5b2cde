"""Configuration: one :class:`Settings` object, read in one place (:func:`load_settings`).

Layers, each overriding the one before: defaults, the TOML configuration file
(``--config`` or ``KASSAGATE_CONFIG``), environment variables, flags. Every field of
:class:`Settings` can be set in each layer by its name: ``port`` in the file,
``KASSAGATE_PORT`` in the environment (``docs/operations.md``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

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
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
ENV_PREFIX = "KASSAGATE_"
#: The environment variable naming the configuration file.
CONFIG_ENV = "KASSAGATE_CONFIG"


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
    # -- HTTP limits (docs/operations.md, "HTTP limits"): also those of ``kassagate cashbox``
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    max_headers: int = DEFAULT_MAX_HEADERS
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    # -- processing (docs/processing.md)
    worker_concurrency: int = 32
    retry_budget: int = 10
    retry_base_seconds: float = 0.5
    retry_max_seconds: float = 60.0
    lease_seconds: float = 60.0
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
    #: Addresses of the reverse proxies in front of kassagate (comma-separated IPs or networks):
    #: only from them are ``X-Forwarded-Proto`` and ``X-Forwarded-For`` believed (the scheme
    #: and host of the URLs in status answers when ``public_url`` is not set). Empty: none.
    trusted_proxies: str = ""
    #: The configuration file read, if any (set by :func:`load_settings`, not by a layer).
    config_file: Path | None = None

    @property
    def http(self) -> HttpLimits:
        return HttpLimits(self.max_header_bytes, self.max_headers, self.header_timeout, self.body_timeout,
                          self.max_connections)

    @property
    def effective_public_url(self) -> str:
        """``public_url``, or ``http://host:port`` when it is not set."""
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def effective_database_url(self) -> str:
        """The SQLAlchemy async URL of the service database."""
        url = self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'kassagate.sqlite3').resolve()}"
        return normalize_database_url(url)

    @property
    def database_label(self) -> str:
        """The database for people to read: the SQLite file, or the server URL without its
        password."""
        url = self.effective_database_url
        if url.startswith("sqlite"):
            return "SQLite " + url.split(":///", 1)[1]
        from sqlalchemy.engine import make_url

        return make_url(url).set(drivername="postgresql").render_as_string(hide_password=True)

    def with_overrides(self, **overrides: object) -> Settings:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


#: Fields no layer sets.
_INTERNAL_FIELDS = frozenset({"config_file"})


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


def _field_types() -> dict[str, Any]:
    hints = typing.get_type_hints(Settings)
    return {f.name: hints[f.name] for f in dataclasses.fields(Settings) if f.name not in _INTERNAL_FIELDS}


def _base_type(tp: Any) -> tuple[Any, bool]:
    """(the type, whether None is allowed) of ``X`` or ``X | None``."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0], True
    return tp, False


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _convert(where: str, raw: Any, tp: Any, *, from_text: bool) -> Any:
    """``raw`` (a TOML value, or an environment variable's text) as a value of ``tp``."""
    base, optional = _base_type(tp)
    if optional and from_text and raw == "":
        return None
    kind = {int: "an integer", float: "a number", bool: "true or false"}.get(base, "a string")
    try:
        if base is bool:
            if isinstance(raw, bool):
                return raw
            if from_text and str(raw).lower() in _TRUE + _FALSE:
                return str(raw).lower() in _TRUE
            raise ValueError
        if base is int:
            if isinstance(raw, bool) or not (from_text or isinstance(raw, int)):
                raise ValueError
            return int(raw)
        if base is float:
            if isinstance(raw, bool) or not (from_text or isinstance(raw, int | float)):
                raise ValueError
            return float(raw)
        if not isinstance(raw, str):
            raise ValueError
        return Path(raw) if base is Path else raw
    except ValueError:
        raise ConfigError(f"{where} must be {kind}, got {raw!r}") from None


def read_config_file(path: Path) -> dict[str, Any]:
    """The settings of a TOML configuration file: keys are the names of :class:`Settings`
    fields; an unknown key or a value of the wrong type is an error that names it."""
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"configuration file {path} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration file {path} is not valid TOML: {exc}") from None
    fields = _field_types()
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"configuration file {path}: unknown setting(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(fields))}"
        )
    return {
        name: _convert(f"{name} in {path}", value, fields[name], from_text=False)
        for name, value in data.items()
    }


def read_env(env: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The settings given as ``KASSAGATE_<FIELD>`` variables (empty ones count as unset),
    and for each the variable's name."""
    values: dict[str, Any] = {}
    where: dict[str, str] = {}
    for name, tp in _field_types().items():
        var = ENV_PREFIX + name.upper()
        raw = env.get(var)
        if raw is None or raw == "":
            continue
        values[name] = _convert(var, raw, tp, from_text=True)
        where[name] = var
    return values, where


def load_settings(
    env: dict[str, str] | None = None, *, config_file: Path | str | None = None, **overrides: object
) -> Settings:
    """Settings from the defaults, the configuration file (``config_file``, else the
    ``KASSAGATE_CONFIG`` variable), the environment, then ``overrides`` (flags; ``None`` =
    not given)."""
    env = dict(os.environ) if env is None else env
    where: dict[str, str] = {}
    values: dict[str, Any] = {}
    path_text = config_file if config_file not in (None, "") else env.get(CONFIG_ENV) or None
    path = Path(str(path_text)) if path_text is not None else None
    if path is not None:
        from_file = read_config_file(path)
        values.update(from_file)
        where.update({name: f"{name} in {path}" for name in from_file})
    from_env, env_where = read_env(env)
    values.update(from_env)
    where.update(env_where)
    given = {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(given) - set(_field_types()))
    if unknown:
        raise TypeError(f"unknown settings {unknown}")
    if "data_dir" in given:
        given["data_dir"] = Path(str(given["data_dir"]))
    values.update(given)
    where.update({name: "--" + name.replace("_", "-") for name in given})
    if isinstance(values.get("log_level"), str):
        values["log_level"] = values["log_level"].upper()
    if isinstance(values.get("log_format"), str):
        values["log_format"] = values["log_format"].lower()
    s = Settings(**values, config_file=path)
    _validate(s, lambda name: where.get(name, name))
    if s.public_url:
        s = replace(s, public_url=s.public_url.rstrip("/"))
    return s


_HTTP_FIELDS = ("max_header_bytes", "max_headers", "header_timeout", "body_timeout", "max_connections")


def load_http_limits(env: dict[str, str] | None = None) -> HttpLimits:
    """The HTTP limits alone, from the environment (``kassagate cashbox``, which has no other
    setting of :class:`Settings`)."""
    values, where = read_env(dict(os.environ) if env is None else env)
    s = Settings(**{k: v for k, v in values.items() if k in _HTTP_FIELDS})
    _validate_http(s, lambda name: where.get(name, name))
    return s.http


def _validate_http(s: Settings, where: typing.Callable[[str], str]) -> None:
    for name in _HTTP_FIELDS:
        value = getattr(s, name)
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{where(name)} must be more than 0, got {value}")


def _validate(s: Settings, where: typing.Callable[[str], str]) -> None:
    _validate_http(s, where)
    if s.rsa_bits not in ALLOWED_RSA_BITS:
        raise ConfigError(f"{where('rsa_bits')} must be one of {ALLOWED_RSA_BITS}, got {s.rsa_bits}")
    if not 0 < s.port < 65536:
        raise ConfigError(f"{where('port')} must be 1-65535, got {s.port}")
    if s.log_level not in LOG_LEVELS:
        raise ConfigError(f"{where('log_level')} must be one of {', '.join(LOG_LEVELS)}, got {s.log_level!r}")
    for name in ("max_body", "worker_concurrency", "retry_budget"):
        if getattr(s, name) < 1:
            raise ConfigError(f"{where(name)} must be at least 1, got {getattr(s, name)}")
    for name in ("retry_base_seconds", "retry_max_seconds", "lease_seconds"):
        if not getattr(s, name) > 0:
            raise ConfigError(f"{where(name)} must be more than 0, got {getattr(s, name)}")
    for name in ("max_queue_depth", "kassa_burst"):
        if getattr(s, name) < 0:
            raise ConfigError(f"{where(name)} must be 0 (off) or more, got {getattr(s, name)}")
    for name in ("max_pending_age_seconds", "kassa_rate"):
        value = getattr(s, name)
        if not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"{where(name)} must be a finite number >= 0 (0: off), got {value}")
    if s.log_format not in LOG_FORMATS:
        raise ConfigError(f"{where('log_format')} must be one of {', '.join(LOG_FORMATS)}, got {s.log_format!r}")
    if s.public_url and (
        not s.public_url.startswith(("http://", "https://")) or any(c in s.public_url for c in " ?#")
    ):
        raise ConfigError(
            f"{where('public_url')} must be an http:// or https:// address without query, got {s.public_url!r}"
        )
    try:
        s.effective_database_url  # noqa: B018 - validates the URL early
    except ConfigError as exc:
        if where("database_url") != "KASSAGATE_DATABASE_URL":
            raise ConfigError(str(exc).replace("KASSAGATE_DATABASE_URL", where("database_url"), 1)) from None
        raise
