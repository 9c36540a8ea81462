"""Static checks of the deployment files in infra/ (no Docker engine needed).

They pin what the security model depends on: a non-root image, the API and
workers logging in as waypost_api (never the owner), the owner's URL reaching
only the migration, and an init script that creates no role able to bypass RLS.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from backend.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
DOCKERFILE = INFRA / "Dockerfile"
DOCKERIGNORE = INFRA / "Dockerfile.dockerignore"
COMPOSE = INFRA / "compose.yaml"
INIT_SQL = INFRA / "postgres" / "init.sql"
INIT_SH = INFRA / "postgres" / "init.sh"

KNOWN_SETTINGS = {
    "WAYPOST_ENV",
    "WAYPOST_DATABASE_URL",
    "WAYPOST_MIGRATION_DATABASE_URL",
    "WAYPOST_BROKER_URL",
    "WAYPOST_SECRET_KEY",
    "WAYPOST_BASE_URL",
    "WAYPOST_TRUSTED_PROXIES",
}
SERVICES = {"postgres", "redis", "migrate", "api", "worker"}
APP_SERVICES = ("migrate", "api", "worker")
REQUIRED = re.compile(r"^\$\{(?P<name>[A-Z][A-Z0-9_]*):\?[^}]*\}$")
# The password must be a required compose variable, never a literal.
DB_URL = re.compile(
    r"^postgresql\+asyncpg://(?P<user>[a-z_]+):(?P<password>\$\{[^}]+\})"
    r"@(?P<host>[a-z0-9_.-]+):(?P<port>\d+)/(?P<db>[a-z_]+)$"
)


# --- Dockerfile ---------------------------------------------------------------


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = pending + line
        pending = ""
        keyword, _, args = full.partition(" ")
        out.append((keyword.upper(), args.strip()))
    assert not pending, "Dockerfile ends inside a line continuation"
    return out


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in _instructions(DOCKERFILE):
        if instruction[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def _final_stage() -> list[tuple[str, str]]:
    return _stages()[-1]


def _args(stage: list[tuple[str, str]], keyword: str) -> list[str]:
    return [args for kw, args in stage if kw == keyword]


def _copy_sources(args: str) -> tuple[list[str], bool]:
    words = [w for w in shlex.split(args) if not w.startswith("--")]
    return words[:-1], "--from=" in args


def test_dockerfile_is_multi_stage_from_one_slim_python() -> None:
    stages = _stages()
    assert len(stages) >= 2
    images = {shlex.split(stage[0][1])[0] for stage in stages}
    # The venv's interpreter is a symlink into the base image: one image for all stages.
    assert len(images) == 1, images
    (image,) = images
    assert image.startswith("python:"), image
    assert image.endswith("-slim"), image
    copies_from_builder = [a for a in _args(_final_stage(), "COPY") if "--from=" in a]
    assert any("/opt/venv" in a for a in copies_from_builder)


def test_dockerfile_python_satisfies_requires_python() -> None:
    text = DOCKERFILE.read_text()
    match = re.search(r"^ARG PYTHON_VERSION=(\d+)\.(\d+)\s*$", text, re.MULTILINE)
    assert match, "expected ARG PYTHON_VERSION=X.Y before the first FROM"
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = re.fullmatch(r">=\s*(\d+)\.(\d+)", requires.strip())
    assert minimum, requires
    assert (int(match[1]), int(match[2])) >= (int(minimum[1]), int(minimum[2]))


def test_final_stage_runs_as_a_fixed_non_root_user() -> None:
    users = _args(_final_stage(), "USER")
    assert users, "the final stage must switch to a non-root USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert user.isdigit(), "a numeric UID lets runAsNonRoot verify it"
    assert int(user) >= 1000


def test_final_stage_has_no_build_tools() -> None:
    build_tools = re.compile(
        r"\b(gcc|g\+\+|cc|clang|make|build-essential|[a-z0-9.+-]+-dev|python3-dev)\b"
    )
    for keyword, args in _final_stage():
        if keyword == "RUN":
            assert not build_tools.search(args), args
            assert "pip install" not in args, "install in the builder, copy the venv"


def test_final_stage_environment() -> None:
    env: dict[str, str] = {}
    for args in _args(_final_stage(), "ENV"):
        for word in shlex.split(args):
            key, _, value = word.partition("=")
            env[key] = value
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1"
    assert env.get("PYTHONUNBUFFERED") == "1"
    assert "/opt/venv/bin" in env.get("PATH", "")


def test_entrypoint_cmd_expose_and_healthcheck() -> None:
    final = _final_stage()
    assert [json.loads(a) for a in _args(final, "ENTRYPOINT")][-1] == ["waypost"]
    assert [json.loads(a) for a in _args(final, "CMD")][-1] == [
        "serve",
        "--host",
        "0.0.0.0",  # noqa: S104 - inside the container, published by compose
        "--port",
        "8000",
    ]
    assert "8000" in " ".join(_args(final, "EXPOSE")).split()
    (healthcheck,) = _args(final, "HEALTHCHECK")
    assert "/healthz" in healthcheck
    assert ":8000" in healthcheck
    assert "urllib" in healthcheck, "slim images have no curl"
    assert not re.search(r"\b(curl|wget)\b", healthcheck)


def _ignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    patterns = set(_ignore_patterns())
    for needed in (".git", ".venv", "var", "tests", ".env"):
        assert needed in patterns, needed
    assert any("__pycache__" in p for p in patterns)
    assert any(".mypy_cache" in p for p in patterns)


def test_dockerfile_copies_what_the_wheel_needs_and_it_is_not_ignored() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    needed = {"pyproject.toml", project["project"]["readme"]}
    needed |= set(project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])
    copied: set[str] = set()
    for stage in _stages():
        for args in _args(stage, "COPY"):
            sources, from_stage = _copy_sources(args)
            if from_stage:
                continue
            for source in sources:
                source = source.rstrip("/")
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
                parts = Path(source).parts
                prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
                for pattern in _ignore_patterns():
                    hit = [p for p in prefixes if fnmatch.fnmatch(p, pattern.rstrip("/"))]
                    assert not hit, f"COPY {source} is excluded by {pattern!r}"
                copied.add(source)
    assert needed <= copied, f"not copied into the build: {sorted(needed - copied)}"
    runtime = " ".join(_args(_final_stage(), "COPY"))
    # alembic's [tool.alembic] config and the migration scripts, in the workdir.
    assert "pyproject.toml" in runtime
    assert "migrations" in runtime


# --- compose ------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _db_url(value: str) -> re.Match[str]:
    match = DB_URL.match(value)
    assert match, f"unexpected database URL shape: {value}"
    assert match["host"] == "postgres"
    assert match["port"] == "5432"
    assert match["db"] == "waypost"
    assert REQUIRED.match(match["password"]), "the password must be ${VAR:?...}"
    return match


def test_known_settings_are_real_settings_fields() -> None:
    prefix = Settings.model_config.get("env_prefix", "")
    fields = {f"{prefix}{name}".upper() for name in Settings.model_fields}
    assert fields >= KNOWN_SETTINGS


def test_compose_defines_exactly_the_five_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == SERVICES
    assert "x-waypost-env" in compose


def test_only_known_waypost_variables_are_used() -> None:
    used = set(re.findall(r"\bWAYPOST_[A-Z0-9_]+", COMPOSE.read_text()))
    assert used <= KNOWN_SETTINGS, f"unknown WAYPOST_ names: {sorted(used - KNOWN_SETTINGS)}"


def test_api_and_worker_log_in_as_waypost_api_never_the_owner(compose: dict[str, Any]) -> None:
    for name in ("api", "worker"):
        env = _env(compose["services"][name])
        assert _db_url(env["WAYPOST_DATABASE_URL"])["user"] == "waypost_api"
        assert "WAYPOST_MIGRATION_DATABASE_URL" not in env
        assert not any("waypost_owner" in value for value in env.values()), name


def test_only_migrate_gets_the_owner_url(compose: dict[str, Any]) -> None:
    holders = [
        name
        for name, service in compose["services"].items()
        if "WAYPOST_MIGRATION_DATABASE_URL" in _env(service)
    ]
    assert holders == ["migrate"]
    env = _env(compose["services"]["migrate"])
    assert _db_url(env["WAYPOST_MIGRATION_DATABASE_URL"])["user"] == "waypost_owner"


def test_app_containers_run_in_production_with_a_required_secret(
    compose: dict[str, Any],
) -> None:
    for name in APP_SERVICES:
        env = _env(compose["services"][name])
        assert env["WAYPOST_ENV"] == "production", name
        match = REQUIRED.match(env["WAYPOST_SECRET_KEY"])
        assert match, name
        assert match["name"] == "WAYPOST_SECRET_KEY", name
        # Production refuses http://: no default address, the operator gives theirs.
        match = REQUIRED.match(env["WAYPOST_BASE_URL"])
        assert match, name
        assert match["name"] == "WAYPOST_BASE_URL", name


def test_no_hard_coded_secrets(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for key, value in _env(service).items():
            if "PASSWORD" in key or "SECRET" in key:
                match = REQUIRED.match(value)
                assert match, f"{name}.{key} must be ${{{key}:?...}}"
                assert match["name"] == key, f"{name}.{key} names another variable"


def test_service_commands_ordering_and_ports(compose: dict[str, Any]) -> None:
    services = compose["services"]
    migrate, api, worker = services["migrate"], services["api"], services["worker"]
    assert migrate["command"] == ["migrate"]
    assert migrate["restart"] == "no"  # the string: YAML's bare no is a boolean
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert api["command"][0] == "serve"
    assert worker["command"] == ["worker"]
    assert api["ports"] == ["127.0.0.1:8000:8000"]
    assert "ports" not in worker
    assert "ports" not in services["postgres"]
    for service in (api, worker):
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    # The image's HEALTHCHECK probes the API port, which these never open.
    for service in (migrate, worker):
        assert service["healthcheck"] == {"disable": True}


def test_app_services_build_this_repository(compose: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        build = compose["services"][name]["build"]
        assert (INFRA / build["context"]).resolve() == ROOT
        assert (ROOT / build["dockerfile"]).resolve() == DOCKERFILE


def test_postgres_and_redis_are_health_checked(compose: dict[str, Any]) -> None:
    postgres, redis = compose["services"]["postgres"], compose["services"]["redis"]
    assert str(postgres["image"]).startswith("postgres:16")
    assert str(redis["image"]).startswith("redis:7")
    assert "pg_isready" in postgres["healthcheck"]["test"]
    assert "redis-cli" in redis["healthcheck"]["test"]


def test_postgres_mounts_the_init_files_and_a_named_volume(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]
    mounts = dict(str(v).split(":", 2)[:2] for v in postgres["volumes"])
    for source in mounts:
        if source.startswith("."):
            assert (INFRA / source).is_file(), source
    init_targets = [t for t in mounts.values() if t.startswith("/docker-entrypoint-initdb.d/")]
    assert init_targets
    assert all(t.endswith(".sh") for t in init_targets)
    assert mounts["./postgres/init.sh"] in init_targets
    # init.sql needs the password variables: mounted where the entrypoint won't run it,
    # and where init.sh looks for it.
    sql_target = mounts["./postgres/init.sql"]
    assert not sql_target.startswith("/docker-entrypoint-initdb.d/")
    assert sql_target in INIT_SH.read_text()
    data = [s for s, t in mounts.items() if t == "/var/lib/postgresql/data"]
    assert data
    assert data[0] in compose["volumes"]
    # Every variable init.sh insists on reaches the postgres container.
    required = set(re.findall(r"\$\{([A-Z_]+):\?", INIT_SH.read_text()))
    assert required
    assert required <= set(_env(postgres))


def test_docker_compose_accepts_the_file() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker is not installed")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("the docker compose plugin is not installed")
    env = {
        **os.environ,
        "WAYPOST_SECRET_KEY": "x" * 48,
        "POSTGRES_PASSWORD": "a" * 32,
        "PG_OWNER_PASSWORD": "b" * 32,
        "PG_API_PASSWORD": "c" * 32,
    }
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# --- Postgres init ------------------------------------------------------------


def _statements() -> list[str]:
    """init.sql's SQL statements, one string each: psql meta-commands dropped, and
    ``\\gexec`` (run the statements a query produces) ending a statement like ``;``."""
    lines = []
    for line in INIT_SQL.read_text().splitlines():
        line = line.split("--", 1)[0].strip()
        if line and not line.startswith("\\"):  # psql meta-commands
            lines.append(line.replace("\\gexec", ";"))
    return [" ".join(s.split()) for s in " ".join(lines).split(";") if s.strip()]


def _default(variable: str) -> str:
    """The value init.sql gives a psql variable the caller did not set."""
    [value] = re.findall(rf"^\s*\\set {variable} (\w+)$", INIT_SQL.read_text(), re.MULTILINE)
    return value


def _role(variable: str | None, name: str) -> str:
    """The attributes init.sql gives a role, created when missing and altered each run."""
    ref = f':"{variable}"' if variable else name
    literal = f":'{variable}'" if variable else f"'{name}'"
    created = [s for s in _statements() if s.startswith("SELECT format('CREATE ROLE %I'")]
    assert any(s.endswith(f"WHERE rolname = {literal})") for s in created), f"create {name}"
    found = [s for s in _statements() if s.startswith(f"ALTER ROLE {ref} ")]
    assert len(found) == 1, f"ALTER ROLE {ref}: {found}"
    return found[0].upper()


def test_api_role_can_log_in_but_cannot_bypass_rls() -> None:
    assert _default("api_role") == "waypost_api"
    role = _role("api_role", "waypost_api")
    assert re.search(r"\bLOGIN\b", role)
    assert "NOINHERIT" in role  # nothing at all without SET ROLE waypost_app
    for attribute in ("SUPERUSER", "BYPASSRLS", "CREATEDB", "CREATEROLE"):
        assert not re.search(rf"\b{attribute}\b", role), attribute
        assert f"NO{attribute}" in role, f"say NO{attribute} explicitly"
    grants = [s.upper() for s in _statements() if s.upper().startswith("GRANT ")]
    assert 'GRANT WAYPOST_APP TO :"API_ROLE"' in grants


def test_app_role_matches_settings_and_cannot_log_in_or_bypass_rls() -> None:
    assert Settings.model_fields["database_app_role"].default == "waypost_app"
    role = _role(None, "waypost_app")
    assert "NOLOGIN" in role
    assert not re.search(r"\bLOGIN\b", role)
    for attribute in ("SUPERUSER", "BYPASSRLS"):
        assert not re.search(rf"\b{attribute}\b", role), attribute


def test_owner_role_owns_the_database_without_superuser() -> None:
    assert _default("owner_role") == "waypost_owner"
    assert _default("database") == "waypost"
    role = _role("owner_role", "waypost_owner")
    assert re.search(r"\bLOGIN\b", role)
    assert not re.search(r"\b(SUPERUSER|BYPASSRLS)\b", role)
    databases = [s for s in _statements() if "CREATE DATABASE" in s]
    assert databases == [
        "SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'owner_role') "
        "WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database')"
    ]


def test_init_passwords_come_from_the_environment_only() -> None:
    sql = INIT_SQL.read_text()
    assert not re.search(r"PASSWORD\s+'", sql, re.IGNORECASE), "no literal passwords"
    used = set(re.findall(r"PASSWORD\s+:'(\w+)'", sql, re.IGNORECASE))
    assert used == {"owner_password", "api_password"}
    script = INIT_SH.read_text()
    passed = set(re.findall(r"--set (\w+)=\"\$[A-Z_]+\"", script))
    assert passed == used, "init.sh must set exactly the variables init.sql reads"


def test_init_script_is_valid_bash() -> None:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    assert INIT_SH.read_text().startswith("#!/usr/bin/env bash\n")
    result = subprocess.run([bash, "-n", str(INIT_SH)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_api_and_worker_share_the_redis_broker(compose: dict[str, Any]) -> None:
    """The embedded memory:// broker would leave the worker container nothing to do."""
    urls = {
        name: _env(compose["services"][name])["WAYPOST_BROKER_URL"] for name in ("api", "worker")
    }
    assert urls["api"] == urls["worker"]
    assert re.fullmatch(r"\$\{WAYPOST_BROKER_URL:-redis://redis:6379/\d+\}", urls["api"])
    assert "redis" in compose["services"]
