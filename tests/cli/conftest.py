"""Fixtures of the command-line tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from backend.db.engine import Database
from backend.entrypoints.migrate import upgrade


@pytest_asyncio.fixture(loop_scope="session")
async def embedded(tmp_path: Path) -> AsyncIterator[Database]:
    """The default database of a fresh directory (var/waypost.db), migrated, for inspection."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'var' / 'waypost.db'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    yield db
    await db.dispose()
