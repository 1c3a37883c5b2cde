from pathlib import Path

import pytest

from kassagate.config import ConfigError, HttpLimits, load_settings


def test_defaults_use_sqlite_in_data_dir(tmp_path: Path) -> None:
    s = load_settings({}, data_dir=tmp_path)
    assert s.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert str(tmp_path.resolve()) in s.effective_database_url
    assert (s.host, s.port, s.rsa_bits) == ("127.0.0.1", 8080, 4096)


def test_flags_override_env() -> None:
    s = load_settings({"KASSAGATE_PORT": "9000", "KASSAGATE_HOST": "0.0.0.0"}, port=9100)
    assert (s.host, s.port) == ("0.0.0.0", 9100)


def test_postgres_url_spellings_become_asyncpg() -> None:
    s = load_settings({"KASSAGATE_DATABASE_URL": "postgresql://u@h:5432/db"})
    assert s.effective_database_url == "postgresql+asyncpg://u@h:5432/db"


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"KASSAGATE_RSA_BITS": "1024"}, "KASSAGATE_RSA_BITS"),
        ({"KASSAGATE_PORT": "eighty"}, "KASSAGATE_PORT"),
        ({"KASSAGATE_DATABASE_URL": "mysql://x"}, "KASSAGATE_DATABASE_URL"),
        ({"KASSAGATE_HEADER_TIMEOUT": "soon"}, "KASSAGATE_HEADER_TIMEOUT"),
        ({"KASSAGATE_MAX_CONNECTIONS": "0"}, "KASSAGATE_MAX_CONNECTIONS"),
        ({"KASSAGATE_MAX_HEADER_BYTES": "-1"}, "KASSAGATE_MAX_HEADER_BYTES"),
    ],
)
def test_bad_settings_say_what_to_fix(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load_settings(env)


def test_http_limits_come_from_the_environment() -> None:
    assert load_settings({}).http == HttpLimits(32768, 100, 10.0, 30.0, 1000)
    s = load_settings({"KASSAGATE_MAX_HEADER_BYTES": "8192", "KASSAGATE_MAX_HEADERS": "20",
                       "KASSAGATE_HEADER_TIMEOUT": "2.5", "KASSAGATE_BODY_TIMEOUT": "7",
                       "KASSAGATE_MAX_CONNECTIONS": "64"})
    assert s.http == HttpLimits(8192, 20, 2.5, 7.0, 64)


def test_public_url() -> None:
    assert load_settings({}).effective_public_url == "http://127.0.0.1:8080"
    s = load_settings({"KASSAGATE_PUBLIC_URL": "https://kassa.example.com/"})
    assert (s.public_url, s.effective_public_url) == ("https://kassa.example.com", "https://kassa.example.com")
    for bad in ("kassa.example.com", "ftp://x", "https://x/?a=1", "https://x/#top"):
        with pytest.raises(ConfigError, match="KASSAGATE_PUBLIC_URL"):
            load_settings({"KASSAGATE_PUBLIC_URL": bad})


def test_observability_and_backpressure_settings() -> None:
    s = load_settings({})
    assert (s.log_format, s.max_queue_depth, s.max_pending_age_seconds, s.kassa_rate, s.kassa_burst) == (
        "text", 100_000, 300.0, 0.0, 0)
    s = load_settings({"KASSAGATE_LOG_FORMAT": "JSON", "KASSAGATE_MAX_QUEUE_DEPTH": "0",
                       "KASSAGATE_MAX_PENDING_AGE_SECONDS": "2.5", "KASSAGATE_KASSA_RATE": "0.5",
                       "KASSAGATE_KASSA_BURST": "4"})
    assert (s.log_format, s.max_queue_depth, s.max_pending_age_seconds, s.kassa_rate, s.kassa_burst) == (
        "json", 0, 2.5, 0.5, 4)


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"KASSAGATE_LOG_FORMAT": "xml"}, "KASSAGATE_LOG_FORMAT"),
        ({"KASSAGATE_KASSA_RATE": "fast"}, "KASSAGATE_KASSA_RATE"),
        ({"KASSAGATE_KASSA_RATE": "-1"}, "KASSAGATE_KASSA_RATE"),
        ({"KASSAGATE_MAX_PENDING_AGE_SECONDS": "nan"}, "KASSAGATE_MAX_PENDING_AGE_SECONDS"),
        ({"KASSAGATE_MAX_QUEUE_DEPTH": "-5"}, "KASSAGATE_MAX_QUEUE_DEPTH"),
    ],
)
def test_bad_observability_settings_say_which(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load_settings(env)
