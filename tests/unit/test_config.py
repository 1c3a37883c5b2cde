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


# -- the configuration file -----------------------------------------------------------------

def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_precedence_is_flags_then_env_then_file_then_defaults(tmp_path: Path) -> None:
    conf = _write(tmp_path / "k.toml", 'host = "10.0.0.1"\nport = 9001\nrsa_bits = 3072\nlog_level = "warning"\n')
    env = {"KASSAGATE_CONFIG": str(conf), "KASSAGATE_PORT": "9002"}
    s = load_settings(env, log_level="ERROR")
    assert (s.host, s.port, s.rsa_bits, s.log_level) == ("10.0.0.1", 9002, 3072, "ERROR")
    assert s.max_body == 1024 * 1024  # the default, named by no layer
    assert s.config_file == conf
    # --config beats KASSAGATE_CONFIG
    other = _write(tmp_path / "other.toml", "port = 7000\n")
    assert load_settings({"KASSAGATE_CONFIG": str(conf)}, config_file=other).port == 7000


def test_every_setting_can_be_set_in_the_file_and_the_environment_by_its_name(tmp_path: Path) -> None:
    import dataclasses
    import typing

    from kassagate.config import Settings

    # (TOML text, environment text, expected value) by type; a field added to Settings is
    # covered without touching this test.
    samples: dict[object, tuple[str, str, object]] = {
        int: ("3072", "3072", 3072),
        float: ("2.5", "2.5", 2.5),
        bool: ("true", "yes", True),
        str: ('"DEBUG"', "DEBUG", "DEBUG"),
        Path: (f'"{tmp_path / "d"}"', str(tmp_path / "d"), tmp_path / "d"),
    }
    hints = typing.get_type_hints(Settings)
    fields = [f for f in dataclasses.fields(Settings) if f.name != "config_file"]
    assert {f.name for f in fields} >= {"data_dir", "database_url", "port", "retry_budget", "lease_seconds"}
    lines, env = [], {}
    expected: dict[str, object] = {}
    for f in fields:
        base = next((a for a in typing.get_args(hints[f.name]) if a is not type(None)), hints[f.name])
        toml_text, env_text, want = samples[base]
        # Settings whose values are checked get a valid sample of their own.
        special = {"database_url": "postgresql://u@h/db", "log_format": "json", "public_url": "https://k.example"}
        if f.name in special:
            value = special[f.name]
            toml_text, env_text, want = f'"{value}"', value, value
        lines.append(f"{f.name} = {toml_text}")
        env[f"KASSAGATE_{f.name.upper()}"] = env_text
        expected[f.name] = want
    from_file = load_settings({}, config_file=_write(tmp_path / "all.toml", "\n".join(lines) + "\n"))
    from_env = load_settings(env)
    for name, want in expected.items():
        assert getattr(from_file, name) == want, name
        assert getattr(from_env, name) == want, name


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("port = \"eighty\"\n", ["port in", "integer"]),
        ("prot = 80\n", ["unknown setting", "prot"]),
        ("rsa_bits = 1024\n", ["rsa_bits in", "2048"]),
        ("database_url = \"mysql://x\"\n", ["database_url in", "postgresql://"]),
        ("port = \n", ["not valid TOML"]),
        ("log_level = \"loud\"\n", ["log_level in", "INFO"]),
    ],
)
def test_a_bad_file_says_which_setting_and_file(tmp_path: Path, text: str, fragments: list[str]) -> None:
    conf = _write(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError) as err:
        load_settings({}, config_file=conf)
    for fragment in fragments:
        assert fragment in str(err.value)
    assert str(conf) in str(err.value)


def test_a_missing_file_is_an_error_not_the_defaults(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings({"KASSAGATE_CONFIG": str(tmp_path / "nope.toml")})


def test_processing_settings_reach_the_worker_config() -> None:
    from kassagate.processing.worker import ProcessingConfig

    c = ProcessingConfig.from_env({"KASSAGATE_RETRY_BUDGET": "4", "KASSAGATE_LEASE_SECONDS": "7.5",
                                   "KASSAGATE_WORKER_CONCURRENCY": "3"})
    assert (c.retry_budget, c.lease_seconds, c.concurrency) == (4, 7.5, 3)
    with pytest.raises(ConfigError, match="KASSAGATE_RETRY_BUDGET"):
        ProcessingConfig.from_env({"KASSAGATE_RETRY_BUDGET": "0"})


def test_database_label_hides_the_password(tmp_path: Path) -> None:
    s = load_settings({"KASSAGATE_DATABASE_URL": "postgresql://kg:s3cret@db.example:5432/kassagate"})
    assert s.database_label == "postgresql://kg:***@db.example:5432/kassagate"
    assert load_settings({}, data_dir=tmp_path).database_label == f"SQLite {tmp_path.resolve()}/kassagate.sqlite3"


def test_the_shipped_example_file_is_valid_and_names_the_defaults() -> None:
    from kassagate.config import Settings

    example = Path(__file__).parents[2] / "deploy" / "kassagate.toml"
    s = load_settings({}, config_file=example)
    assert s.data_dir == Path("/var/lib/kassagate")
    defaults = Settings()
    for name in ("host", "port", "log_level", "rsa_bits", "max_body", "worker_concurrency", "retry_budget",
                 "retry_base_seconds", "retry_max_seconds", "lease_seconds", "max_header_bytes", "max_headers",
                 "header_timeout", "body_timeout", "max_connections"):
        assert getattr(s, name) == getattr(defaults, name), name
