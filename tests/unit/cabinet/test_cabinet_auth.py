"""The cabinet's building blocks: password hashes, session cookies, CSRF, the throttle,
the language choice, the masking of contacts."""

from __future__ import annotations

from pathlib import Path

import pytest

from kassagate.cabinet import auth, i18n
from kassagate.cabinet.app import mask_contact, money


def test_password_hash_is_argon2id_and_verifies_only_the_password() -> None:
    h = auth.hash_password("correct horse")
    assert h.startswith("$argon2id$")
    assert auth.verify_password(h, "correct horse")
    assert not auth.verify_password(h, "correct horsf")
    assert not auth.verify_password(None, "correct horse")  # no such login
    assert not auth.verify_password("not a hash", "correct horse")


def test_session_cookie_round_trips_and_refuses_forgery_and_expiry(tmp_path: Path) -> None:
    now = [1000.0]
    s = auth.Sessions(auth.load_secret(tmp_path), ttl=60, clock=lambda: now[0])
    session = s.new(7, 3)
    cookie = s.dump(session)
    assert s.load(cookie) == session
    assert s.load(cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")) is None
    other = auth.Sessions(b"0" * 64, clock=lambda: now[0])
    assert other.load(cookie) is None
    assert s.load("") is None and s.load(None) is None and s.load("x" * 5000) is None
    now[0] += 61
    assert s.load(cookie) is None


def test_the_signing_key_is_kept_with_owner_only_access(tmp_path: Path) -> None:
    first = auth.load_secret(tmp_path)
    assert auth.load_secret(tmp_path) == first and len(first) == 64
    assert (tmp_path / "cabinet-secret.key").stat().st_mode & 0o077 == 0


def test_csrf_needs_the_sessions_own_token(tmp_path: Path) -> None:
    s = auth.Sessions(auth.load_secret(tmp_path))
    session = s.new()
    assert auth.csrf_ok(session, session.csrf)
    assert not auth.csrf_ok(session, None) and not auth.csrf_ok(session, "")
    assert not auth.csrf_ok(session, s.new().csrf)
    assert not auth.csrf_ok(None, session.csrf)


def test_throttle_grows_after_the_free_failures_and_clears_on_success() -> None:
    t = auth.Throttle(free=3, base=0.5, cap=8)
    delays = [t.attempt("Op" if i % 2 else "op") for i in range(9)]
    assert delays == [0, 0, 0, 0.5, 1, 2, 4, 8, 8]
    assert t.delay("other") == 0
    t.succeeded("OP")
    assert t.delay("op") == 0


@pytest.mark.parametrize(
    ("cookie", "header", "lang"),
    [
        (None, "ru-RU,ru;q=0.9,en;q=0.8", "ru"),
        (None, "de-DE,en;q=0.5,ru;q=0.7", "ru"),
        (None, "en-GB", "en"),
        (None, "de, fr", "en"),
        (None, None, "en"),
        (None, "ru;q=0", "en"),
        (None, "ru;q=abc, en;q=0.1", "en"),
        ("ru", "en", "ru"),
        ("xx", "ru", "ru"),
    ],
)
def test_language_choice(cookie: str | None, header: str | None, lang: str) -> None:
    assert i18n.pick_language(cookie, header) == lang


def test_both_languages_have_every_message() -> None:
    assert set(i18n.MESSAGES["en"]) == set(i18n.MESSAGES["ru"])
    assert all(i18n.MESSAGES["ru"].values()) and all(i18n.MESSAGES["en"].values())


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("buyer@example.com", "b***@example.com"),
        ("+79991234567", "+7********67"),
        ("", ""),
        (None, ""),
    ],
)
def test_contacts_are_masked(value: str | None, masked: str) -> None:
    assert mask_contact(value) == masked


def test_money_in_roubles() -> None:
    assert (money(15000), money(5), money(-1999), money(None), money("x")) == ("150.00", "0.05", "-19.99", "", "")


def test_register_warnings() -> None:
    import datetime as dt

    from kassagate.cabinet.health import warnings_of
    from kassagate.cashbox.client import RegisterInfo

    def info(**kw: object) -> RegisterInfo:
        raw = {"code": 0, "fnState": "ok", "fnFillPercent": 10.0, "fnExpiry": "2027-06-30", **kw}
        return RegisterInfo.parse(raw)

    today = dt.date(2026, 12, 3)
    assert warnings_of(info(), today) == ()
    assert warnings_of(info(fnState="blocked"), today) == ("warn_fn",)
    assert warnings_of(info(fnFillPercent=90.0), today) == ("warn_fill",)
    assert warnings_of(info(fnExpiry="2027-01-02"), today) == ("warn_expiry",)
    assert warnings_of(info(fnExpiry="2027-01-03"), today) == ()
    assert warnings_of(info(fnExpiry="garbage"), today) == ()


def test_shift_age_in_the_registers_zone() -> None:
    import datetime as dt

    from kassagate.cabinet.health import shift_hours
    from kassagate.cashbox.client import RegisterInfo

    now = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)  # 15:00 in Moscow

    def info(**kw: object) -> RegisterInfo:
        return RegisterInfo.parse({"code": 0, "isShiftOpen": True, "shiftOpenAt": "2026-12-03 09:30:00", **kw})

    assert shift_hours(info(), now) == 5.5
    assert shift_hours(info(timezone="Asia/Yekaterinburg"), now) == 7.5
    assert shift_hours(info(timezone="Mars/Olympus"), now) is None
    assert shift_hours(info(isShiftOpen=False), now) is None
    assert shift_hours(info(shiftOpenAt="yesterday"), now) is None


def test_the_unsent_documents_age_warns_from_25_days() -> None:
    import datetime as dt

    from kassagate.cabinet.health import unsent_days, warnings_of
    from kassagate.cashbox.client import RegisterInfo

    now = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)  # 15:00 in Moscow

    def info(**kw: object) -> RegisterInfo:
        raw = {"code": 0, "fnState": "ok", "fnFillPercent": 1.0, "fnExpiry": "2027-06-30", "unsentCount": 3, **kw}
        return RegisterInfo.parse(raw)

    today = now.date()
    assert unsent_days(info(oldestUnsentAt="2026-11-08 15:00:00"), now) == 25.0
    assert warnings_of(info(oldestUnsentAt="2026-11-08 15:00:00"), today, now) == ("warn_unsent",)
    assert warnings_of(info(oldestUnsentAt="2026-11-08 15:00:01"), today, now) == ()
    # the register's own zone: 15:00 in Vladivostok is 08:00 in Moscow, 7 hours older
    assert unsent_days(info(oldestUnsentAt="2026-11-08 15:00:00", timezone="Asia/Vladivostok"), now) == 25 + 7 / 24
    # a blocked drive already says so; nothing unsent, or no time given: no age
    assert warnings_of(info(oldestUnsentAt="2026-10-01 00:00:00", fnState="blocked"), today, now) == ("warn_fn",)
    assert unsent_days(info(oldestUnsentAt="2026-10-01 00:00:00", unsentCount=0), now) is None
    assert unsent_days(info(oldestUnsentAt=None), now) is None
    assert unsent_days(info(oldestUnsentAt="soon"), now) is None
    assert warnings_of(info(oldestUnsentAt="2026-10-01 00:00:00"), today) == ()
