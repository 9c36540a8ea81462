"""Settings read from the environment (WAYPOST_*), with safe embedded defaults."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Known to everyone who has read this file: fine on a laptop, refused in production.
DEFAULT_SECRET_KEY = "waypost-development-secret-key-do-not-use-in-production"  # noqa: S105 - refused in production
MIN_SECRET_KEY_LENGTH = 32
DEFAULT_DATA_DIR = Path("var")


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class InsecureSettingsError(ValueError):
    """Raised when production settings would be unsafe to run with."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WAYPOST_", extra="ignore", frozen=True)

    env: Environment = Environment.DEVELOPMENT
    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{DEFAULT_DATA_DIR / 'waypost.db'}",
        description="What the API and workers connect with.",
    )
    migration_database_url: str | None = Field(
        default=None,
        description="The tables' owner, used only by `waypost migrate`; defaults to database_url.",
    )
    broker_url: str = Field(default="memory://", description="memory://, redis://… or amqp://…")
    secret_key: str = DEFAULT_SECRET_KEY
    base_url: str = "http://127.0.0.1:8000"

    # Postgres group role every application connection switches to, so row-level
    # security applies even when the login role happens to own the tables.
    database_app_role: str = "waypost_app"
    # Connections kept per process (as many again may open briefly), and the most
    # GraphQL requests a process works on at once: the rest queue (backend/app.py).
    database_pool_size: int = 10
    # Application-level tenant scoping (session criteria). Only tests turn it off,
    # to show that Postgres row-level security holds on its own.
    app_scoping: bool = True
    # None: on in development and test, off in production.
    introspection: bool | None = None
    # Whole-map reads kept per process until the map or its health changes
    # (graphql_schema/map_read_cache.py); 0 turns the cache off.
    map_read_cache_mb: int = Field(default=64, ge=0)

    # Background work.
    worker_threads: int = 4
    # An event dispatched this long ago and still not processed is sent again. Longer
    # than an actor's whole retry schedule (workers.actors.RETRIES, about 8.5 minutes):
    # a message still being retried is not lost, and a second send would start a
    # second round of retries.
    outbox_redeliver_after_seconds: float = 900.0
    audit_verify_interval_seconds: float = 3600.0
    # A health pass waits this long after the change that asked for it, so that a
    # burst (a bulk import, an editing session) is taken in one pass.
    health_coalesce_ms: int = 500
    # Every workspace's health is recomputed in full and snapshotted this often.
    health_full_interval_seconds: float = 24 * 3600.0

    # Browser sessions (after single sign-on): ended after this long without a request,
    # and in any case this long after sign-in.
    session_idle_timeout_seconds: float = 8 * 3600.0
    session_absolute_timeout_seconds: float = 7 * 24 * 3600.0

    # The audit chain's HMAC key (backend/audit/keys.py): derived from this value if set,
    # else from secret_key. Former values stay listed as retired (a JSON list) so that
    # events signed under them still verify after a rotation.
    audit_key: SecretStr | None = None
    audit_retired_keys: list[SecretStr] = Field(default_factory=list)

    @model_validator(mode="after")
    def _refuse_a_weak_audit_key(self) -> Settings:
        if self.audit_key is not None and len(self.audit_key) < MIN_SECRET_KEY_LENGTH:
            raise InsecureSettingsError(
                f"WAYPOST_AUDIT_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters."
            )
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env is Environment.PRODUCTION:
            if self.secret_key == DEFAULT_SECRET_KEY or not self.secret_key:
                raise InsecureSettingsError(
                    "WAYPOST_SECRET_KEY must be set to a random value in production "
                    "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')."
                )
            if len(self.secret_key) < MIN_SECRET_KEY_LENGTH:
                raise InsecureSettingsError(
                    f"WAYPOST_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters "
                    "in production."
                )
        return self

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def introspection_enabled(self) -> bool:
        return self.introspection if self.introspection is not None else not self.is_production

    @property
    def owner_database_url(self) -> str:
        return self.migration_database_url or self.database_url

    @property
    def secure_cookies(self) -> bool:
        """Cookies travel over HTTPS only, except on a developer's plain-HTTP laptop."""
        return self.env is not Environment.DEVELOPMENT

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
