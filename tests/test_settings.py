"""Settings: safe embedded defaults, and production refuses to run insecurely."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from backend.db.engine import Database
from backend.settings import DEFAULT_SECRET_KEY, Environment, Settings


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


@pytest.mark.parametrize("secret", [None, DEFAULT_SECRET_KEY, "", "too-short"])
def test_production_refuses_a_missing_default_or_weak_secret(
    monkeypatch: pytest.MonkeyPatch, secret: str | None
) -> None:
    monkeypatch.delenv("WAYPOST_SECRET_KEY", raising=False)
    monkeypatch.setenv("WAYPOST_ENV", "production")
    if secret is not None:
        monkeypatch.setenv("WAYPOST_SECRET_KEY", secret)
    with pytest.raises(ValidationError, match="WAYPOST_SECRET_KEY"):
        Settings()


def test_production_with_a_real_secret_turns_introspection_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WAYPOST_ENV", "production")
    monkeypatch.setenv("WAYPOST_SECRET_KEY", "s" * 48)
    settings = Settings()
    assert not settings.introspection_enabled
    assert Settings(
        env=Environment.PRODUCTION, secret_key="s" * 48, introspection=True
    ).introspection_enabled


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
    settings = Settings(env=env, secret_key="s" * 48)
    assert settings.secure_cookies is secure
