"""Settings read from the environment (WAYPOST_*), with safe embedded defaults."""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from limits import parse_many
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from backend.edge.cors import exact_origin
from backend.net.dns import parse_nameserver
from backend.net.outbound import allowlist_entry
from backend.secret_strength import weakness

# Known to everyone who has read this file: fine on a laptop, refused in production.
DEFAULT_SECRET_KEY = "waypost-development-secret-key-do-not-use-in-production"  # noqa: S105 - refused in production
DEFAULT_DATA_DIR = Path("var")
EMBEDDED_OVERRIDE = "WAYPOST_ALLOW_EMBEDDED_IN_PRODUCTION"

# Requests each client may make, per rule (backend/ratelimit.py applies them; limits'
# notation, several separated by ";"). Per address: a whole office may share one.
DEFAULT_RATE_LIMITS: dict[str, str] = {
    "auth_ip": "60/minute",  # sign-in, invitation links, logout, per client address
    "auth_credential": "10/minute",  # per invitation link, session or sign-in attempt
    "ingest_ip": "1200/minute",
    "ingest_credential": "600/minute",  # per ingestion token
    "graphql_ip": "3000/minute",  # every request that carries a credential, per address
    "graphql_credential": "1200/minute",  # per API token or session
    "graphql_anonymous_ip": "60/minute",  # requests with no credential, per address
    # New documents one credential keeps for its persisted queries (by hash, shared in Redis).
    "persisted_query_credential": "100/hour",
}
RATE_LIMIT_OFF = "off"


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

    # Production normally runs on Postgres and a real broker; a single box may choose
    # the embedded SQLite file and in-process broker, knowingly, with this flag.
    allow_embedded_in_production: bool = False
    # Reverse proxies (IP addresses or CIDR networks) whose X-Forwarded-For and
    # X-Forwarded-Proto are believed; from anyone else these headers are ignored.
    # From the environment: comma-separated.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()

    # Postgres group role every application connection switches to, so row-level
    # security applies even when the login role happens to own the tables.
    database_app_role: str = "waypost_app"
    # Connections kept per process (as many again may open briefly), and the most
    # GraphQL requests a process works on at once: the rest queue (backend/entrypoints/app.py).
    database_pool_size: int = 10
    # Application-level tenant scoping (session criteria). Only tests turn it off,
    # to show that Postgres row-level security holds on its own.
    app_scoping: bool = True
    # None: on in development and test, off in production.
    introspection: bool | None = None
    # Whole-map reads kept per process until the map or its health changes
    # (graphql_schema/map_read_cache.py); 0 turns the cache off.
    map_read_cache_mb: int = Field(default=64, ge=0)
    # Planned execution of read subtrees (graphql_schema/engine.py): a map's stages,
    # touchpoints, pain points and health built from rows in one pass. False runs every
    # field through graphql-core's own execution (the engine before it, for comparing),
    # and has Python write each revision's snapshot as the first version did (on
    # Postgres, Postgres writes it otherwise: backend/journeys/snapshot_sql.py).
    planned_reads: bool = True

    # Background work.
    worker_threads: int = 4
    # An event dispatched this long ago and still not processed is sent again. Longer
    # than an actor's whole retry schedule (workers.actors.RETRIES, about 8.5 minutes):
    # a message still being retried is not lost, and a second send would start a
    # second round of retries.
    outbox_redeliver_after_seconds: float = 900.0
    audit_verify_interval_seconds: float = 3600.0
    # Every workspace's whole chain is verified this often (the hourly check reads only
    # the links added since the last one: an event edited after it was checked is found
    # here).
    audit_full_verify_interval_seconds: float = 24 * 3600.0
    # GraphQL subscriptions (docs/api-conventions.md, "Subscriptions"): how often a running
    # one checks its caller's credential and access again; how many one socket may run
    # (strawberry counts every operation in flight on it); how many one credential may
    # run in one process; how many events may wait for a subscriber before it is dropped.
    subscription_recheck_seconds: float = Field(default=5.0, gt=0)
    subscriptions_per_connection: int = Field(default=20, ge=1)
    subscriptions_per_credential: int = Field(default=50, ge=1)
    subscription_queue_size: int = Field(default=100, ge=1)
    # A health pass waits this long after the change that asked for it, so that a
    # burst (a bulk import, an editing session) is taken in one pass.
    health_coalesce_ms: int = 500
    # Every workspace's health is recomputed in full and snapshotted this often.
    health_full_interval_seconds: float = 24 * 3600.0
    # The sentiment scorer: the dotted path of a class implementing
    # backend.feedback.sentiment.scorer.Scorer (docs/health-score.md, "Sentiment").
    sentiment_scorer: str = "backend.feedback.sentiment.vader.VaderScorer"

    # Browser sessions (after single sign-on): ended after this long without a request,
    # and in any case this long after sign-in.
    session_idle_timeout_seconds: float = 8 * 3600.0
    session_absolute_timeout_seconds: float = 7 * 24 * 3600.0
    # Lets an enabled SSO connection name email domains the organization has not
    # verified by DNS. Never in production: it would let any organization admin point
    # another company's domain at their own provider. Logged loudly at start-up.
    sso_allow_unverified_domains: bool = False

    # Outbound network access (backend/net/). DNS servers asked for TXT records and for
    # the addresses of hosts the server fetches from: "host" or "host:port" entries
    # ("[v6]:port" for IPv6), comma-separated; empty means the system's resolver.
    dns_nameservers: Annotated[tuple[str, ...], NoDecode] = ()
    # Hosts (by name), addresses and networks (CIDR) the server may fetch from although
    # they are not public, comma-separated: a development identity provider on loopback,
    # an internal one. Plain http:// goes only to these, and never in production.
    outbound_allow: Annotated[tuple[str, ...], NoDecode] = ()

    # Browser pages on other origins that may call the API (CORS): exact origins such as
    # https://app.example.com, comma-separated. Only these get the response, the
    # X-Request-Id header and credentials (the session cookie); no wildcard.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    # A manifest of the app's own GraphQL documents (graphql-codegen's persisted
    # documents or Apollo's persisted query manifest, by SHA-256): when set, only these
    # are answered, sent by hash or in full.
    trusted_documents: Path | None = None

    @field_validator("dns_nameservers", "outbound_allow", "cors_origins", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part for part in value.replace(",", " ").split() if part)
        return value

    @field_validator("dns_nameservers")
    @classmethod
    def _check_nameservers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            parse_nameserver(entry)  # ValueError names the bad entry
        return value

    # Rate limits: a rule named here replaces its default ("off" lifts it), e.g.
    # WAYPOST_RATE_LIMITS='{"graphql_credential": "50/second;2000/minute"}'.
    rate_limits: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    # Off only for load tests, which send everything from one address.
    rate_limits_enabled: bool = True

    @field_validator("rate_limits")
    @classmethod
    def _complete_rate_limits(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(DEFAULT_RATE_LIMITS))
        if unknown:
            raise ValueError(
                f"unknown rule {', '.join(unknown)}; the rules are {', '.join(DEFAULT_RATE_LIMITS)}"
            )
        for name, rate in value.items():
            if rate.strip().lower() == RATE_LIMIT_OFF:
                continue
            try:
                parse_many(rate)
            except ValueError:
                raise ValueError(
                    f"{name}: {rate!r} is not a rate such as '30/minute' or "
                    f"'5/second;100/hour' (or {RATE_LIMIT_OFF!r})"
                ) from None
        return {**DEFAULT_RATE_LIMITS, **value}

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        networks = []
        for entry in value:
            try:
                networks.append(str(ipaddress.ip_network(entry)))
            except ValueError:
                raise ValueError(
                    f"WAYPOST_TRUSTED_PROXIES: {entry!r} is not an IP address or a CIDR "
                    "network (such as 10.0.0.7 or 10.0.0.0/24)"
                ) from None
        return tuple(networks)

    @field_validator("cors_origins")
    @classmethod
    def _exact_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(exact_origin(entry) for entry in value)

    @field_validator("outbound_allow")
    @classmethod
    def _check_allowlist(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(allowlist_entry(entry) for entry in value)

    # The audit chain's HMAC key (backend/crypto/audit_keys.py): derived from this value if set,
    # else from secret_key. Former values stay listed as retired (a JSON list) so that
    # events signed under them still verify after a rotation.
    audit_key: SecretStr | None = None
    audit_retired_keys: list[SecretStr] = Field(default_factory=list)

    @model_validator(mode="after")
    def _refuse_a_weak_audit_key(self) -> Settings:
        weak = self.audit_key and weakness(self.audit_key.get_secret_value(), known=())
        if weak:
            raise InsecureSettingsError(f"WAYPOST_AUDIT_KEY {weak}: set a random value.")
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env is not Environment.PRODUCTION:
            return self  # `make run`: a laptop on plain HTTP with the embedded defaults
        weak = weakness(self.secret_key, known=(DEFAULT_SECRET_KEY,))
        if weak:
            raise InsecureSettingsError(
                f"WAYPOST_SECRET_KEY {weak}: set a random value in production (for example: "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))')."
            )
        url = urlsplit(self.base_url)
        if url.scheme != "https" or not url.hostname:
            raise InsecureSettingsError(
                "WAYPOST_BASE_URL must be the https:// address people use in production "
                f"(got {self.base_url!r}): session cookies are sent over HTTPS only."
            )
        plain = [origin for origin in self.cors_origins if origin.startswith("http://")]
        if plain:
            raise InsecureSettingsError(
                f"WAYPOST_CORS_ORIGINS lists {', '.join(plain)}: in production only https:// "
                "pages may use the API's credentials (a page on plain HTTP can be altered on "
                "its way)."
            )
        if not self.allow_embedded_in_production:
            if self.is_sqlite:
                raise InsecureSettingsError(
                    "WAYPOST_DATABASE_URL is the embedded SQLite file: production needs "
                    f"Postgres, or {EMBEDDED_OVERRIDE}=true for a deliberate single box."
                )
            if self.broker_url.startswith("memory://"):
                raise InsecureSettingsError(
                    "WAYPOST_BROKER_URL is the in-process broker: production needs redis:// "
                    f"or amqp://, or {EMBEDDED_OVERRIDE}=true for a deliberate single box."
                )
        return self

    @model_validator(mode="after")
    def _refuse_unverified_sso_in_production(self) -> Settings:
        if self.env is Environment.PRODUCTION and self.sso_allow_unverified_domains:
            raise InsecureSettingsError(
                "WAYPOST_SSO_ALLOW_UNVERIFIED_DOMAINS is for development only: in production "
                "an SSO connection may only admit email domains its organization verified."
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
