"""A production deployment on loopback: `waypost serve` and `waypost worker` processes,
Postgres and Redis each behind a TCP proxy that the scenarios cut.

Every process runs with ``WAYPOST_ENV=production`` and settings production accepts
(an https base URL, a random secret key, Postgres, Redis); the API listens on plain
HTTP on 127.0.0.1, as it does behind a TLS proxy. Logs go to files in a temporary
directory, read for tracebacks when a scenario ends.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

from bench.faults.database import ROOT, ProductionDatabase
from tests.fixtures.proxy import TcpProxy

WAYPOST = [sys.executable, "-m", "backend.entrypoints"]
REDIS_PORT = 6379
STARTUP_SECONDS = 60.0
BASE_URL = "https://waypost.faults.example"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    """One `waypost` process, started again under the same name after a kill."""

    name: str
    command: list[str]
    env: dict[str, str]
    logs: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    log_files: list[Path] = field(default_factory=list)

    def start(self) -> None:
        self.starts += 1
        log = self.logs / f"{self.name}-{self.starts}.log"
        self.log_files.append(log)
        with log.open("wb") as sink:
            self.process = subprocess.Popen(  # noqa: S603 - our own CLI
                self.command,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)

    def wait(self, timeout: float) -> int | None:
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; the exit code (None: it was killed)."""
        if not self.running:
            return self.process.returncode if self.process else None
        self.signal(signal.SIGTERM)
        code = self.wait(timeout)
        if code is None:
            self.kill()
        return code

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        self.wait(10)

    def log_text(self) -> str:
        return "".join(f.read_text(errors="replace") for f in self.log_files if f.exists())


class Deployment:
    """The API, one worker, and the proxies in front of Postgres and Redis."""

    def __init__(self, db: ProductionDatabase, redis_db: int) -> None:
        self.db = db
        self.redis_db = redis_db
        self.logs = Path(tempfile.mkdtemp(prefix="waypost-faults-"))
        self.postgres = TcpProxy("127.0.0.1", 5432)
        self.redis = TcpProxy("127.0.0.1", REDIS_PORT)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.api: Service | None = None
        self.worker: Service | None = None
        self._secret = secrets.token_urlsafe(48)

    def env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if not k.startswith("WAYPOST_")}
        return keep | {
            "WAYPOST_ENV": "production",
            "WAYPOST_SECRET_KEY": self._secret,
            "WAYPOST_BASE_URL": BASE_URL,
            "WAYPOST_DATABASE_URL": self.db.url(self.db.login, port=self.postgres.port),
            "WAYPOST_MIGRATION_DATABASE_URL": self.db.url(self.db.owner),
            "WAYPOST_BROKER_URL": f"redis://127.0.0.1:{self.redis.port}/{self.redis_db}",
            # Every client of the run shares 127.0.0.1: the per-address limits would
            # measure themselves, not the faults.
            "WAYPOST_RATE_LIMITS_ENABLED": "false",
        }

    def broker_client(self) -> redis.Redis:
        """Redis itself, not through the proxy: what an operator's FLUSHDB reaches."""
        return redis.Redis(host="127.0.0.1", port=REDIS_PORT, db=self.redis_db)

    def migrate(self) -> None:
        done = subprocess.run(  # noqa: S603
            [*WAYPOST, "migrate"], cwd=ROOT, env=self.env(), capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"waypost migrate failed:\n{done.stdout}{done.stderr}")

    def bootstrap(self, org: str) -> str:
        """`waypost bootstrap`: an organization, its owner and first workspace; a token."""
        done = subprocess.run(  # noqa: S603
            [
                *WAYPOST,
                *("bootstrap", "--org", org, "--name", "Faults", "--kind", "company"),
                *("--admin-email", f"owner@{org}.example"),
            ],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"waypost bootstrap failed:\n{done.stdout}{done.stderr}")
        return done.stdout.strip().splitlines()[-1]

    @contextlib.contextmanager
    def running(self) -> Iterator[Deployment]:
        self.postgres.up()
        self.redis.up()
        self.broker_client().flushdb()
        env = self.env()
        self.api = Service(
            "api", [*WAYPOST, "serve", "--port", str(self.port), "--no-access-log"], env, self.logs
        )
        self.worker = Service("worker", [*WAYPOST, "worker"], env, self.logs)
        try:
            self.start_api()
            self.worker.start()
            yield self
        finally:
            for service in (self.api, self.worker):
                if service is not None:
                    service.stop(15)
            self.postgres.close()
            self.redis.close()

    def start_api(self) -> float:
        """Start `waypost serve` and wait until /healthz answers; seconds it took."""
        assert self.api is not None
        started = time.monotonic()
        self.api.start()
        deadline = started + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if not self.api.running:
                raise RuntimeError(f"waypost serve exited:\n{self.api.log_text()[-3000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return time.monotonic() - started
            time.sleep(0.1)
        raise RuntimeError(f"waypost serve did not answer:\n{self.api.log_text()[-3000:]}")

    def ready(self) -> bool:
        with contextlib.suppress(httpx.TransportError):
            return httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200
        return False

    def log_marks(self) -> dict[str, int]:
        """Where each service's log ends now: a scenario reads only what follows."""
        return {s.name: len(s.log_text()) for s in (self.api, self.worker) if s is not None}

    def tracebacks_since(self, marks: dict[str, int]) -> dict[str, int]:
        counts = {}
        for service in (self.api, self.worker):
            if service is None:
                continue
            text = service.log_text()[marks.get(service.name, 0) :]
            found = text.count("Traceback (most recent call last)")
            if found:
                counts[f"{service.name} log tracebacks"] = found
        return counts
