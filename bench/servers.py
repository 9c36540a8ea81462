"""Waypost's API and worker, and the floor, as benchmark subprocesses with production settings.

Each runs in its own process group and is stopped with everything it forked, whatever
happens inside the ``with`` block; its log goes to a temporary file shown when it fails.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from bench.load import descendants

ROOT = Path(__file__).resolve().parent.parent
WAYPOST = Path(sys.executable).parent / "waypost"
BENCH_REDIS = "redis://127.0.0.1:6379/10"
STARTUP_TIMEOUT = 120.0


@dataclass(frozen=True)
class Process:
    """A started server: its base URL, its process (and children), its log."""

    url: str
    pid: int
    log: Path

    def pids(self) -> list[int]:
        return descendants(self.pid)


def production_env(database_url: str, **extra: str) -> dict[str, str]:
    """What a production deployment sets: production mode, a real secret, Redis as broker.

    Rate limits are off: the load comes from one address, as fast as it is answered.
    """
    return {
        **os.environ,
        "WAYPOST_ENV": "production",
        "WAYPOST_SECRET_KEY": secrets.token_urlsafe(48),
        # Production refuses a base URL that is not https (session cookies are Secure).
        "WAYPOST_BASE_URL": "https://waypost.bench.example",
        "WAYPOST_DATABASE_URL": database_url,
        "WAYPOST_BROKER_URL": BENCH_REDIS,
        "WAYPOST_RATE_LIMITS_ENABLED": "false",
        **extra,
    }


@contextlib.contextmanager
def _started(command: list[str], env: dict[str, str], ready_url: str | None) -> Iterator[Process]:
    fd, name = tempfile.mkstemp(prefix="waypost-bench-", suffix=".log")
    log = Path(name)
    process: subprocess.Popen[bytes] | None = None
    try:
        with os.fdopen(fd, "wb") as out:
            process = subprocess.Popen(  # noqa: S603
                command,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if ready_url is not None:
            _wait_until_answering(process, ready_url, log)
        yield Process(url=(ready_url or "").removesuffix("/healthz"), pid=process.pid, log=log)
    finally:
        if process is not None:
            _stop(process)
        log.unlink(missing_ok=True)


def _wait_until_answering(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited at start:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise RuntimeError(
        f"{url} did not answer in {STARTUP_TIMEOUT:.0f} s:\n{log.read_text()[-3000:]}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    # Forked workers may outlive their parent by a moment.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def waypost_api(
    database_url: str, *, port: int, processes: int, cache: bool = True, planned: bool = False
) -> contextlib.AbstractContextManager[Process]:
    """``waypost serve`` on production settings (no access log), the map-read cache on or
    off, and the ordinary engine or the planned one (``planned_reads``)."""
    env = production_env(
        database_url,
        WAYPOST_MAP_READ_CACHE_MB="64" if cache else "0",
        WAYPOST_PLANNED_READS="true" if planned else "false",
    )
    command = [str(WAYPOST), "serve", "--port", str(port), "--workers", str(processes)]
    return _started([*command, "--no-access-log"], env, f"http://127.0.0.1:{port}/healthz")


def waypost_worker(database_url: str) -> contextlib.AbstractContextManager[Process]:
    """``waypost worker``: the actors (sentiment, health) and the outbox relay."""
    return _started([str(WAYPOST), "worker"], production_env(database_url), None)


def floor_server(
    database_url: str, *, port: int, processes: int
) -> contextlib.AbstractContextManager[Process]:
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    env = {**os.environ, "BENCH_FLOOR_DSN": dsn}
    command = [sys.executable, "-m", "bench.floor", "--port", str(port)]
    return _started(
        [*command, "--workers", str(processes)], env, f"http://127.0.0.1:{port}/healthz"
    )
