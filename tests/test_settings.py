"""Settings: safe embedded defaults, and production refuses to run insecurely."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from backend.db.engine import Database
from backend.settings import DEFAULT_SECRET_KEY, Environment, Settings

# What `python -c 'import secrets; print(secrets.token_urlsafe(48))'` prints.
REAL_KEY = "q3Vd9Jx_7LwZk2N0sPfYb8RtUe1GmHc4Aa6oXiTn5yKvQ-hWjE"
# A production deployment as the infra files describe it.
PRODUCTION = {
    "WAYPOST_ENV": "production",
    "WAYPOST_SECRET_KEY": REAL_KEY,
    "WAYPOST_BASE_URL": "https://waypost.example.com",
    "WAYPOST_DATABASE_URL": "postgresql+asyncpg://waypost_api:pw@postgres:5432/waypost",
    "WAYPOST_BROKER_URL": "redis://redis:6379/0",
}


def production_env(monkeypatch: pytest.MonkeyPatch, **changes: str | None) -> None:
    for name, value in {**PRODUCTION, **changes}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


def test_embedded_defaults_need_no_services(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WAYPOST_DATABASE_URL", "WAYPOST_BROKER_URL", "WAYPOST_ENV"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.broker_url == "memory://"
    assert settings.env is Environment.DEVELOPMENT
    assert settings.introspection_enabled


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAYPOST_DATABASE_URL", "postgresql+asyncpg://u@h/db")
    monkeypatch.setenv("WAYPOST_BROKER_URL", "redis://h:6379/0")
    monkeypatch.setenv("WAYPOST_BASE_URL", "https://waypost.example")
    settings = Settings()
    assert settings.database_url == "postgresql+asyncpg://u@h/db"
    assert settings.owner_database_url == settings.database_url
    assert settings.broker_url == "redis://h:6379/0"
    assert settings.base_url == "https://waypost.example"


def test_production_as_deployed_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    production_env(monkeypatch)
    assert Settings().is_production


@pytest.mark.parametrize(
    "secret",
    [
        None,
        DEFAULT_SECRET_KEY,
        DEFAULT_SECRET_KEY.upper(),
        "",
        "too-short",
        " " * 40,  # what the attacker's review started production with
        "\t\n " * 20,
        "x" * 40,
        "ab" * 24,  # a short pattern, repeated
        "password" * 5,
        "abcdefghijklmnopqrstuvwxyz0123456789ABCD",  # a keyboard run
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa0123456789",
        "ac" * 14 + "QWERT",  # little variety despite its length
        f"  {DEFAULT_SECRET_KEY}  ",
    ],
)
def test_production_refuses_a_missing_default_or_weak_secret(
    monkeypatch: pytest.MonkeyPatch, secret: str | None
) -> None:
    production_env(monkeypatch, WAYPOST_SECRET_KEY=secret)
    with pytest.raises(ValidationError, match="WAYPOST_SECRET_KEY"):
        Settings()


@pytest.mark.parametrize(
    "secret",
    [
        REAL_KEY,
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",  # openssl rand -hex 32
        "3b5d5c3712955042212316173ccf37be",  # secrets.token_hex(16)
        "Zm9yIGEgcmVhbCBrZXkgdXNlIG9wZW5zc2wgcmFuZA==",  # openssl rand -base64 32
    ],
)
def test_production_takes_keys_made_the_usual_ways(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    production_env(monkeypatch, WAYPOST_SECRET_KEY=secret)
    assert Settings().secret_key == secret


@pytest.mark.parametrize(
    "base_url",
    ["http://waypost.example.com", "http://127.0.0.1:8000", "waypost.example", "https://"],
)
def test_production_refuses_a_base_url_without_https(
    monkeypatch: pytest.MonkeyPatch, base_url: str
) -> None:
    production_env(monkeypatch, WAYPOST_BASE_URL=base_url)
    with pytest.raises(ValidationError, match="WAYPOST_BASE_URL"):
        Settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WAYPOST_DATABASE_URL", None),  # the embedded default
        ("WAYPOST_DATABASE_URL", "sqlite+aiosqlite:////srv/waypost.db"),
        ("WAYPOST_BROKER_URL", None),
        ("WAYPOST_BROKER_URL", "memory://"),
    ],
)
def test_production_refuses_the_embedded_database_and_broker_unless_told(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str | None
) -> None:
    production_env(monkeypatch, **{name: value})
    with pytest.raises(ValidationError, match="WAYPOST_ALLOW_EMBEDDED_IN_PRODUCTION"):
        Settings()
    monkeypatch.setenv("WAYPOST_ALLOW_EMBEDDED_IN_PRODUCTION", "true")
    assert Settings().allow_embedded_in_production


def test_the_embedded_override_never_excuses_a_weak_key_or_plain_http(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    production_env(
        monkeypatch,
        WAYPOST_DATABASE_URL=None,
        WAYPOST_BROKER_URL=None,
        WAYPOST_ALLOW_EMBEDDED_IN_PRODUCTION="true",
    )
    assert Settings().is_sqlite
    monkeypatch.setenv("WAYPOST_SECRET_KEY", " " * 40)
    with pytest.raises(ValidationError, match="WAYPOST_SECRET_KEY"):
        Settings()
    monkeypatch.setenv("WAYPOST_SECRET_KEY", REAL_KEY)
    monkeypatch.setenv("WAYPOST_BASE_URL", "http://127.0.0.1:8000")
    with pytest.raises(ValidationError, match="WAYPOST_BASE_URL"):
        Settings()


def test_development_runs_on_the_defaults_whatever_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`make run`: nothing set, an http:// address, SQLite and the in-process broker."""
    for name in (*PRODUCTION, "WAYPOST_ALLOW_EMBEDDED_IN_PRODUCTION"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.base_url.startswith("http://")
    assert (settings.is_sqlite, settings.broker_url) == (True, "memory://")
    assert Settings(secret_key=" " * 40).env is Environment.DEVELOPMENT


def test_production_with_a_real_secret_turns_introspection_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    production_env(monkeypatch)
    settings = Settings()
    assert not settings.introspection_enabled
    monkeypatch.setenv("WAYPOST_INTROSPECTION", "true")
    assert Settings().introspection_enabled


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("", ()),
        ("10.0.0.5", ("10.0.0.5/32",)),
        (" 10.0.0.5 , 172.16.0.0/12,::1 ", ("10.0.0.5/32", "172.16.0.0/12", "::1/128")),
    ],
)
def test_trusted_proxies_are_a_list_of_addresses_and_networks(
    monkeypatch: pytest.MonkeyPatch, value: str, parsed: tuple[str, ...]
) -> None:
    monkeypatch.setenv("WAYPOST_TRUSTED_PROXIES", value)
    assert Settings().trusted_proxies == parsed


def test_no_proxy_is_trusted_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WAYPOST_TRUSTED_PROXIES", raising=False)
    assert Settings().trusted_proxies == ()


@pytest.mark.parametrize("value", ["*", "proxy.internal", "10.0.0.1/8", "10.0.0.0/33", "10.0.0.1;"])
def test_a_trusted_proxy_must_be_an_address_or_network(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("WAYPOST_TRUSTED_PROXIES", f"10.9.9.9,{value}")
    with pytest.raises(ValidationError, match="WAYPOST_TRUSTED_PROXIES") as raised:
        Settings()
    assert repr(value) in str(raised.value)


async def test_embedded_sqlite_runs_with_wal_and_foreign_keys(tmp_path: object) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/x/waypost.db")
    try:
        async with db.engine.connect() as conn:
            journal = await conn.exec_driver_sql("PRAGMA journal_mode")
            assert journal.scalar() == "wal"
            foreign_keys = await conn.exec_driver_sql("PRAGMA foreign_keys")
            assert foreign_keys.scalar() == 1
    finally:
        await db.dispose()


@pytest.mark.parametrize(
    ("env", "secure"),
    [(Environment.DEVELOPMENT, False), (Environment.TEST, True), (Environment.PRODUCTION, True)],
)
def test_session_cookies_are_secure_outside_development(env: Environment, secure: bool) -> None:
    """A laptop serves plain HTTP on 127.0.0.1; everywhere else cookies need HTTPS."""
    settings = Settings(
        env=env,
        secret_key=REAL_KEY,
        base_url="https://waypost.example.com",
        allow_embedded_in_production=True,
    )
    assert settings.secure_cookies is secure
