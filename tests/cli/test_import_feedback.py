"""`waypost import-feedback FILE --workspace ID`: CSV and NDJSON files into one workspace,
``importer.CHUNK_ROWS`` rows a transaction, bad rows located by line, idempotent, resumable after an
interruption, all or nothing on request."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from backend.db.engine import Database
from backend.entrypoints import cli
from backend.entrypoints.commands import import_feedback as import_command
from backend.feedback import service
from backend.feedback.importer import CHUNK_ROWS as CHUNK
from backend.feedback.importer import InputFile
from backend.models import AuditEvent, Feedback, OutboxEvent, Touchpoint
from backend.models.audit import ActorType
from backend.settings import Settings
from tests.fixtures.databases import TestDatabase
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.tenants import Tenant

WAYPOST = [sys.executable, "-m", "backend.entrypoints"]
HEADER = "source,externalId,measure,measureValue,text,tags"


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*WAYPOST, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )


@pytest.fixture
def cli_env(test_database: TestDatabase, database: Database) -> dict[str, str]:
    # `database` is requested so the tables are emptied after the test.
    return {"WAYPOST_DATABASE_URL": test_database.app_url, "WAYPOST_ENV": "test"}


def _write(path: Path, lines: Iterable[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def _survey_rows(count: int, prefix: str = "r") -> list[str]:
    return [f"SURVEY,{prefix}{n},NPS,{n % 11},," for n in range(count)]


async def _feedback(owner: AsyncEngine) -> dict[str, dict[str, Any]]:
    async with owner.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    Feedback.id,
                    Feedback.external_id,
                    Feedback.workspace_id,
                    Feedback.measure_value,
                    Feedback.text,
                    Feedback.tags,
                    Feedback.touchpoint_id,
                    Feedback.received_at,
                )
            )
        ).all()
    return {row.external_id: row._asdict() for row in rows}


async def _count(owner: AsyncEngine, table: Any) -> int:
    async with owner.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


async def _import_audit(owner: AsyncEngine) -> list[tuple[Any, ...]]:
    async with owner.connect() as conn:
        return [
            tuple(row)
            for row in (
                await conn.execute(
                    select(
                        AuditEvent.workspace_id,
                        AuditEvent.actor_type,
                        AuditEvent.request_id,
                        AuditEvent.changes,
                    )
                    .where(AuditEvent.action == "feedback.submit")
                    .order_by(AuditEvent.sequence)
                )
            ).all()
        ]


async def test_a_csv_keeps_the_good_rows_and_locates_each_bad_one_by_line(
    cli_env: dict[str, str], tenant_a: Tenant, inspector_engine: AsyncEngine, tmp_path: Path
) -> None:
    workspace = tenant_a.workspace_ids[0]
    file = _write(
        tmp_path / "survey.csv",
        [
            HEADER,  # line 1
            "SURVEY,ok-1,NPS,9,Loved it,",  # 2
            "",  # 3: blank, skipped
            "SURVEY,too-high,NPS,11,,",  # 4
            'SURVEY,ok-2,,,"Two lines',  # 5 …
            'of text",checkout|mobile',  # … 6
            "SURVEY,,CSAT,3,,",  # 7
            "CARRIER_PIGEON,bird,CSAT,3,,",  # 8
            "SURVEY,not-a-number,NPS,nine,,",  # 9
            "SURVEY,ok-3,CSAT,5,,,extra",  # 10
            "SURVEY,ok-4,CSAT,5,,",  # 11
        ],
    )
    done = run("import-feedback", str(file), "--workspace", str(workspace), env=cli_env)
    assert done.returncode == 1, done.stderr
    assert "accepted 3, duplicates 0, rejected 5" in done.stdout
    problems = done.stderr.strip().splitlines()
    assert problems[0] == "line 4: measureValue: Must be between 0 and 10."
    assert problems[1] == "line 7: externalId: Required."
    assert problems[2].startswith("line 8: source: Must be one of ")
    assert problems[3] == "line 9: measureValue: Must be a whole number."
    assert problems[4] == "line 10: Has 7 cells where the header has 6 columns."
    assert len(problems) == 5
    assert "━" not in done.stderr  # stderr is not a terminal: no progress bar

    kept = await _feedback(inspector_engine)
    assert set(kept) == {"ok-1", "ok-2", "ok-4"}
    assert {row["workspace_id"] for row in kept.values()} == {workspace}
    assert kept["ok-2"]["text"] == "Two lines\nof text"
    assert kept["ok-2"]["tags"] == ["checkout", "mobile"]
    assert kept["ok-1"]["measure_value"] == 9
    # One chunk, one transaction: one audit event, attributed to the import.
    assert await _import_audit(inspector_engine) == [
        (
            workspace,
            ActorType.SYSTEM,
            "import-feedback:survey.csv",
            {
                "accepted": {"before": None, "after": 3},
                "duplicates": {"before": None, "after": 0},
                "rejected": {"before": None, "after": 5},
            },
        )
    ]
    assert not (tmp_path / "survey.csv.import-progress.json").exists()


async def test_ndjson_is_imported_line_by_line(
    cli_env: dict[str, str], tenant_a: Tenant, inspector_engine: AsyncEngine, tmp_path: Path
) -> None:
    items: list[str] = [
        json.dumps({"source": "SURVEY", "externalId": "n1", "measure": "NPS", "measureValue": 3}),
        "",
        "{not json",
        json.dumps({"source": "SURVEY", "externalId": "n2", "text": "hi", "colour": "blue"}),
        json.dumps({"source": "REVIEW", "externalId": "n3", "text": "fine", "tags": ["a", "b"]}),
    ]
    # A long name: the audit trail's request id must still fit its column (Postgres).
    file = _write(tmp_path / f"{'exported-from-the-survey-tool-' * 3}.jsonl", items)
    done = run(
        "import-feedback", str(file), "--workspace", str(tenant_a.workspace_ids[0]), env=cli_env
    )
    assert done.returncode == 1, done.stderr
    assert "accepted 2, duplicates 0, rejected 2" in done.stdout
    assert done.stderr.strip().splitlines() == [
        "line 3: Not JSON (one object a line).",
        "line 4: colour: Unknown field.",
    ]
    kept = await _feedback(inspector_engine)
    assert set(kept) == {"n1", "n3"}
    assert kept["n3"]["tags"] == ["a", "b"]
    [(_, _, request_id, _)] = await _import_audit(inspector_engine)
    assert request_id.startswith("import-feedback:exported-from-the-survey-tool-")


async def test_importing_the_same_file_twice_changes_nothing_the_second_time(
    cli_env: dict[str, str], tenant_a: Tenant, inspector_engine: AsyncEngine, tmp_path: Path
) -> None:
    rows = CHUNK + 200
    file = _write(tmp_path / "twice.csv", [HEADER, *_survey_rows(rows)])
    args = ["import-feedback", str(file), "--workspace", str(tenant_a.workspace_ids[0])]
    first = run(*args, env=cli_env)
    assert first.returncode == 0, first.stderr
    assert f"accepted {rows}, duplicates 0, rejected 0" in first.stdout
    kept = await _feedback(inspector_engine)
    outbox = await _count(inspector_engine, OutboxEvent)
    audit = await _import_audit(inspector_engine)
    assert len(kept) == rows
    assert len(audit) == 2  # two chunks

    again = run(*args, env=cli_env)
    assert again.returncode == 0, again.stderr
    assert f"accepted 0, duplicates {rows}, rejected 0" in again.stdout
    assert await _feedback(inspector_engine) == kept  # the same rows, ids and times
    assert await _count(inspector_engine, OutboxEvent) == outbox  # nothing new to process
    # Each chunk still records that it was sent, and that nothing came of it.
    new_audit = (await _import_audit(inspector_engine))[len(audit) :]
    assert [changes["accepted"]["after"] for *_, changes in new_audit] == [0, 0]
    assert [changes["duplicates"]["after"] for *_, changes in new_audit] == [CHUNK, 200]


async def test_an_interrupted_import_resumes_after_its_last_committed_chunk(
    settings: Settings,
    database: Database,
    tenant_a: Tenant,
    inspector_engine: AsyncEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In process, so that the second chunk can fail after its rows were flushed."""
    monkeypatch.setattr(import_command, "get_settings", lambda: settings)
    rows = 2 * CHUNK + 500
    file = _write(tmp_path / "big.csv", [HEADER, *_survey_rows(rows)])
    checkpoint = tmp_path / "big.csv.import-progress.json"
    args = ["import-feedback", str(file), "--workspace", str(tenant_a.workspace_ids[0])]
    real_submit = service.submit
    batches: list[service.BatchResult] = []

    async def crashing_on_the_second_chunk(*a: Any, **kw: Any) -> service.BatchResult:
        batch = await real_submit(*a, **kw)
        batches.append(batch)
        if len(batches) == 2:
            raise RuntimeError("power cut")
        return batch

    monkeypatch.setattr(service, "submit", crashing_on_the_second_chunk)
    crashed = await asyncio.to_thread(CliRunner().invoke, cli.app, args)
    # Told from rejected rows (exit 1) by its code, in one line rather than a traceback.
    assert crashed.exit_code == cli.IMPORT_STOPPED
    assert "error: the import stopped: RuntimeError: power cut." in crashed.stderr
    assert len(await _feedback(inspector_engine)) == CHUNK  # the second chunk rolled back
    saved = json.loads(checkpoint.read_text())
    assert saved["line"] == CHUNK + 1  # the header, then the first chunk's rows
    assert saved["workspace_id"] == str(tenant_a.workspace_ids[0])

    async def recording(*a: Any, **kw: Any) -> service.BatchResult:
        batch = await real_submit(*a, **kw)
        batches.append(batch)
        return batch

    batches.clear()
    monkeypatch.setattr(service, "submit", recording)
    resumed = await asyncio.to_thread(CliRunner().invoke, cli.app, args)
    assert resumed.exit_code == 0, resumed.output
    assert f"resuming after line {CHUNK + 1}" in resumed.stderr
    assert f"accepted {rows}, duplicates 0, rejected 0" in resumed.stdout
    # Only the rows after the checkpoint were sent: nothing needed to be a duplicate.
    assert [len(b.items) for b in batches] == [CHUNK, 500]
    assert sum(b.count(service.Status.DUPLICATE) for b in batches) == 0
    kept = await _feedback(inspector_engine)
    assert set(kept) == {f"r{n}" for n in range(rows)}
    assert not checkpoint.exists()


async def test_restart_ignores_the_checkpoint(
    cli_env: dict[str, str], tenant_a: Tenant, inspector_engine: AsyncEngine, tmp_path: Path
) -> None:
    file = _write(tmp_path / "again.csv", [HEADER, *_survey_rows(5)])
    args = ["import-feedback", str(file), "--workspace", str(tenant_a.workspace_ids[0])]
    assert run(*args, env=cli_env).returncode == 0
    # A checkpoint as an interrupted run would have left it, past every row.
    state = {
        "workspace_id": str(tenant_a.workspace_ids[0]),
        "file": InputFile.open(file).identity,
        "line": 6,
        "accepted": 5,
        "duplicates": 0,
        "rejected": 0,
    }
    checkpoint = tmp_path / "again.csv.import-progress.json"
    checkpoint.write_text(json.dumps(state))
    skipped = run(*args, env=cli_env)
    assert "resuming after line 6" in skipped.stderr
    assert "accepted 5, duplicates 0, rejected 0" in skipped.stdout
    checkpoint.write_text(json.dumps(state))
    restarted = run(*args, "--restart", env=cli_env)
    assert "resuming" not in restarted.stderr
    assert "accepted 0, duplicates 5, rejected 0" in restarted.stdout
    assert not checkpoint.exists()
    # Another workspace's checkpoint is not this import's.
    checkpoint.write_text(json.dumps({**state, "workspace_id": str(uuid.uuid4())}))
    other = run(*args, env=cli_env)
    assert "another workspace or another version of the file" in other.stderr
    assert "accepted 0, duplicates 5, rejected 0" in other.stdout


async def test_all_or_nothing_with_one_bad_row_writes_nothing(
    cli_env: dict[str, str], tenant_a: Tenant, inspector_engine: AsyncEngine, tmp_path: Path
) -> None:
    rows = _survey_rows(1500)
    rows[1298] = "SURVEY,bad,NPS,99,,"  # line 1300, in the second chunk
    file = _write(tmp_path / "strict.csv", [HEADER, *rows])
    args = ["import-feedback", str(file), "--workspace", str(tenant_a.workspace_ids[0])]
    audit_before = await _import_audit(inspector_engine)

    refused = run(*args, "--all-or-nothing", env=cli_env)
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr.strip().splitlines() == [
        "line 1300: measureValue: Must be between 0 and 10."
    ]
    assert "all or nothing: rejected 1, nothing written" in refused.stdout
    assert await _feedback(inspector_engine) == {}  # not even the first, good chunk
    assert await _import_audit(inspector_engine) == audit_before
    assert await _count(inspector_engine, OutboxEvent) == 0

    rows[1298] = "SURVEY,good,NPS,9,,"
    _write(file, [HEADER, *rows])
    taken = run(*args, "--all-or-nothing", env=cli_env)
    assert taken.returncode == 0, taken.stderr
    assert "accepted 1500, duplicates 0, rejected 0" in taken.stdout
    assert len(await _feedback(inspector_engine)) == 1500


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "extra.csv",
            "source,externalId,colour\nSURVEY,x,blue\n",
            "extra.csv: line 1: unknown column 'colour'",
        ),
        ("short.csv", "source,measure\nSURVEY,NPS\n", "line 1: column 'externalId' is required"),
        ("twice.csv", "source,externalId,source\n", "line 1: column 'source' appears twice"),
        ("notes.txt", "source,externalId\nSURVEY,x\n", "notes.txt: Not a .csv, .ndjson or .jsonl"),
    ],
)
async def test_a_bad_file_is_refused_with_a_located_error_before_anything_is_written(
    cli_env: dict[str, str],
    tenant_a: Tenant,
    inspector_engine: AsyncEngine,
    tmp_path: Path,
    name: str,
    content: str,
    message: str,
) -> None:
    file = tmp_path / name
    file.write_text(content)
    done = run(
        "import-feedback", str(file), "--workspace", str(tenant_a.workspace_ids[0]), env=cli_env
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert await _feedback(inspector_engine) == {}
    assert await _import_audit(inspector_engine) == []


@pytest.mark.parametrize(
    ("workspace", "message"),
    [
        (str(uuid.uuid4()), "error: --workspace: Workspace not found."),
        ("not-an-id", "error: --workspace: not a valid id"),
    ],
)
async def test_an_unknown_workspace_is_refused_by_its_flag(
    cli_env: dict[str, str],
    tenant_a: Tenant,
    inspector_engine: AsyncEngine,
    tmp_path: Path,
    workspace: str,
    message: str,
) -> None:
    file = _write(tmp_path / "ok.csv", [HEADER, *_survey_rows(3)])
    done = run("import-feedback", str(file), "--workspace", workspace, env=cli_env)
    assert done.returncode == 2
    assert message in done.stderr
    assert await _feedback(inspector_engine) == {}
    assert await _import_audit(inspector_engine) == []


TOUCHPOINT_MAP = """mutation($ws: ID!) {
  createJourneyMap(input: {workspaceId: $ws, title: "Checkout", template: FIVE_STAGE}) {
    journeyMap { stages { id name } } errors { code } } }"""
ADD_TOUCHPOINT = """mutation($stage: ID!, $keys: MatchKeysInput!) {
  addTouchpoint(input: {stageId: $stage, name: "Pay", matchKeys: $keys}) {
    touchpoint { id } errors { code field } } }"""


async def test_match_keys_attach_imported_rows_to_their_touchpoint(
    cli_env: dict[str, str],
    gql: GraphQLClient,
    tenant_a: Tenant,
    inspector_engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    made = await gql(TOUCHPOINT_MAP, {"ws": tenant_a.ws_gid(0)}, token=tenant_a.token)
    stages = made["data"]["createJourneyMap"]["journeyMap"]["stages"]
    purchase = next(s["id"] for s in stages if s["name"] == "Purchase")
    keys = {
        "eventNames": ["checkout_paid"],
        "surveyIds": ["nps-q3"],
        "urlPatterns": ["https://shop.example/cart*"],
    }
    added = await gql(ADD_TOUCHPOINT, {"stage": purchase, "keys": keys}, token=tenant_a.token)
    assert added["data"]["addTouchpoint"]["errors"] == []
    async with inspector_engine.connect() as conn:
        pay = await conn.scalar(select(Touchpoint.id).where(Touchpoint.name == "Pay"))

    file = _write(
        tmp_path / "keys.csv",
        [
            "source,externalId,measure,measureValue,eventName,surveyId,url",
            "ANALYTICS,e1,CSAT,4,checkout_paid,,",
            "SURVEY,s1,NPS,9,,nps-q3,",
            "ANALYTICS,u1,CSAT,2,,,https://shop.example/cart/42",
            "ANALYTICS,none,CSAT,3,page_viewed,,https://shop.example/help",
        ],
    )
    done = run(
        "import-feedback", str(file), "--workspace", str(tenant_a.workspace_ids[0]), env=cli_env
    )
    assert done.returncode == 0, done.stderr
    kept = await _feedback(inspector_engine)
    assert {key: row["touchpoint_id"] for key, row in kept.items()} == {
        "e1": pay,
        "s1": pay,
        "u1": pay,
        "none": None,
    }


def _run_on_a_terminal(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """Run with stderr on a pseudo-terminal, as a person at a shell would."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [*WAYPOST, *args],
        stdout=subprocess.PIPE,
        stderr=follower,
        env={**os.environ, **env, "TERM": "xterm", "COLUMNS": "120"},
        text=True,
    )
    os.close(follower)
    seen: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:  # EIO: the process closed its terminal
                return
            if not data:
                return
            seen.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    stdout, _ = process.communicate(timeout=120)
    reader.join(timeout=10)
    os.close(leader)
    return process.returncode, stdout, b"".join(seen).decode("utf-8", "replace")


async def test_the_progress_bar_shows_on_a_terminal_unless_turned_off(
    cli_env: dict[str, str], tenant_a: Tenant, tmp_path: Path
) -> None:
    file = _write(tmp_path / "bar.csv", [HEADER, *_survey_rows(1500)])
    args = ["import-feedback", str(file), "--workspace", str(tenant_a.workspace_ids[0])]
    code, stdout, terminal = await asyncio.to_thread(_run_on_a_terminal, *args, env=cli_env)
    assert code == 0
    assert "1501/1501" in terminal
    assert "━" in terminal
    assert "accepted 1500, duplicates 0, rejected 0" in stdout

    code, stdout, terminal = await asyncio.to_thread(
        _run_on_a_terminal, *args, "--no-progress", env=cli_env
    )
    assert code == 0
    assert "━" not in terminal
    assert "/1501" not in terminal
    assert "accepted 0, duplicates 1500, rejected 0" in stdout
