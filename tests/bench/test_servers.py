"""`make bench` starts Waypost as production would: with settings production accepts."""

from __future__ import annotations

import pytest

from backend.settings import Environment, Settings
from bench.servers import production_env


def test_the_bench_environment_is_one_production_accepts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A production setting the bench forgets stops every Waypost server at start-up
    # (as the https base URL rule once did), and with it the whole run.
    env = production_env("postgresql+asyncpg://bench@127.0.0.1:5432/waypost_bench")
    for name, value in env.items():
        if name.startswith("WAYPOST_"):
            monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.env is Environment.PRODUCTION
    assert settings.base_url.startswith("https://")
