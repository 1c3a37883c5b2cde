from pathlib import Path

import pytest

from kassagate.config import ConfigError, load_settings


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
    ],
)
def test_bad_settings_say_what_to_fix(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load_settings(env)


def test_public_url() -> None:
    assert load_settings({}).effective_public_url == "http://127.0.0.1:8080"
    s = load_settings({"KASSAGATE_PUBLIC_URL": "https://kassa.example.com/"})
    assert (s.public_url, s.effective_public_url) == ("https://kassa.example.com", "https://kassa.example.com")
    for bad in ("kassa.example.com", "ftp://x", "https://x/?a=1", "https://x/#top"):
        with pytest.raises(ConfigError, match="KASSAGATE_PUBLIC_URL"):
            load_settings({"KASSAGATE_PUBLIC_URL": bad})
