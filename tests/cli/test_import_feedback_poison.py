"""`waypost import-feedback` with poison in the file: a lone surrogate, NUL, times outside
any sane range, 100,000 tags. Each bad row is listed by line and field, the good rows go
in, and the exit code says "rows rejected" (1), never a traceback; an import that
cannot go on says so in one line and exits 3, distinct from rejected rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.db.engine import Database
from tests.cli.test_import_feedback import _feedback, _write, run
from tests.fixtures.databases import TestDatabase
from tests.fixtures.tenants import Tenant

HUGE = 100_000


@pytest.fixture
def cli_env(test_database: TestDatabase, database: Database) -> dict[str, str]:
    # `database` is requested so the tables are emptied after the test.
    return {"WAYPOST_DATABASE_URL": test_database.app_url, "WAYPOST_ENV": "test"}


def _row(external_id: str, **fields: object) -> str:
    item = {"source": "SURVEY", "externalId": external_id, "measure": "NPS", "measureValue": 9}
    return json.dumps({**item, **fields})  # a lone surrogate is written as "\udfff"


async def test_poison_rows_are_rejected_by_line_and_the_good_ones_kept(
    cli_env: dict[str, str], tenant_a: Tenant, inspector_engine: AsyncEngine, tmp_path: Path
) -> None:
    file = _write(
        tmp_path / "poison.ndjson",
        [
            _row("good-1"),  # line 1
            _row("surrogate", tags=["\udfff"]),  # 2
            _row("nul", text="before\x00after"),  # 3
            _row("bc", occurredAt="0001-01-01T00:00:00+14:00"),  # 4
            _row("far", occurredAt="9999-12-31T23:00:00-14:00"),  # 5
            _row("flood", tags=["t"] * HUGE),  # 6
            _row("id\udfff"),  # 7
            _row("good-2", occurredAt="2024-01-01T09:00:00+14:00"),  # 8
        ],
    )
    done = run(
        "import-feedback", str(file), "--workspace", str(tenant_a.workspace_ids[0]), env=cli_env
    )
    assert "Traceback" not in done.stderr
    assert done.returncode == 1, done.stderr
    assert "accepted 2, duplicates 0, rejected 6" in done.stdout
    listed = [line.split(":")[:2] for line in done.stderr.strip().splitlines()]
    assert listed == [
        ["line 2", " tags[0]"],
        ["line 3", " text"],
        ["line 4", " occurredAt"],
        ["line 5", " occurredAt"],
        ["line 6", " tags"],
        ["line 7", " externalId"],
    ]
    kept = await _feedback(inspector_engine)
    assert set(kept) == {"good-1", "good-2"}


async def test_a_nul_in_a_csv_cell_is_a_rejected_row(
    cli_env: dict[str, str], tenant_a: Tenant, inspector_engine: AsyncEngine, tmp_path: Path
) -> None:
    file = _write(
        tmp_path / "nul.csv",
        ["source,externalId,text", "SURVEY,ok,fine", "SURVEY,bad,zero\x00byte"],
    )
    done = run(
        "import-feedback", str(file), "--workspace", str(tenant_a.workspace_ids[0]), env=cli_env
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        "line 3: text: Must not contain control characters."
    ]
    assert set(await _feedback(inspector_engine)) == {"ok"}


async def test_an_import_that_cannot_go_on_exits_3_without_a_traceback(
    cli_env: dict[str, str], tenant_a: Tenant, tmp_path: Path
) -> None:
    file = _write(tmp_path / "fine.ndjson", [_row("good")])
    # A database never migrated: the import stops at its first statement.
    unreachable = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    done = run(
        "import-feedback",
        str(file),
        "--workspace",
        str(tenant_a.workspace_ids[0]),
        env={**cli_env, "WAYPOST_DATABASE_URL": unreachable},
    )
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    [message] = done.stderr.strip().splitlines()
    assert message.startswith("error: the import stopped")
    assert "run the same command again" in message
