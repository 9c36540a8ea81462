"""How fast feedback goes into Postgres (workload (d)): the bulk import and HTTP ingestion.

    .venv/bin/python -m bench.ingest --database-url postgresql+asyncpg://… setup
    .venv/bin/python -m bench.ingest --database-url … import --workspace ID --rows 100000
    .venv/bin/python -m bench.ingest http --base-url http://127.0.0.1:8742 --token wpin_… \
        --batches 40 --concurrency 4

``setup`` builds a workspace the real way (an organization, a current-state map of five
stages with touchpoints listing match keys, an ingestion token) and prints its id, the
token and the event names. ``import`` writes a CSV of unique, realistic rows and times
``waypost import-feedback`` on it (a subprocess: start-up included, as a person sees
it; ``--in-process`` times ``importer.import_file`` alone). ``http`` posts unique
batches of 1,000 to ``POST /ingest/v1/feedback`` at a fixed concurrency and counts the
accepted items per second from the answers.

The functions the harness calls: ``bulk_import_rate`` and ``http_ingestion_rate``, each
answering a ``Rate``; ``prepare_workspace`` builds a world for them. Mind that the CLI's
start-up (some 1.3 s: the interpreter, SQLAlchemy, the models, typer) is in the
subprocess figure: it weighs on 20,000 rows, hardly on 300,000. Feedback accumulates in
the workspace from run to run (unique external ids each time); start from a fresh
database to compare runs made at different times.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx

WAYPOST = [sys.executable, "-m", "backend.entrypoints"]
INGEST_PATH = "/ingest/v1/feedback"
_SUMMARY = re.compile(r"accepted (\d+), duplicates (\d+), rejected (\d+)")

_TEXTS = (
    "Checkout was quick and lovely, great service",
    "The payment failed twice before it went through",
    "Delivery took longer than promised",
    "Support answered within minutes and solved it",
    "Could not find the returns form anywhere",
    "Prices are fair, the app keeps logging me out",
    "Love the new search, it finds things at last",
    "Terrible experience, the parcel arrived damaged",
)
_TAGS = ("checkout", "mobile", "web", "delivery", "billing", "returns", "search", "support")
_SOURCES = ("SURVEY", "ANALYTICS", "SUPPORT_TICKET", "REVIEW")
_MEASURES = (("CSAT", 1, 5), ("NPS", 0, 10), ("CES", 1, 7), ("RATING", 1, 5))
DEFAULT_EVENT_NAMES = tuple(f"bench.step_{n}" for n in range(10))


@dataclass(frozen=True)
class Rate:
    rows: int
    seconds: float
    per_second: float

    def __str__(self) -> str:
        return f"{self.rows:,} in {self.seconds:.2f} s: {self.per_second:,.0f}/s"


@dataclass(frozen=True)
class IngestWorld:
    workspace_id: UUID
    ingestion_token: str
    event_names: tuple[str, ...]


def _item(n: int, prefix: str, event_names: Sequence[str], now: datetime) -> dict[str, Any]:
    """One realistic item, camelCase as on the wire: most with a measure and a text,
    a third with tags, most carrying a match key event name (when there are any)."""
    kind, low, high = _MEASURES[n % len(_MEASURES)]
    item: dict[str, Any] = {
        "source": _SOURCES[n % len(_SOURCES)],
        "externalId": f"{prefix}-{n}",
        "occurredAt": (now - timedelta(minutes=7 * n % 250_000)).isoformat(timespec="seconds"),
    }
    if n % 7 != 3:
        item["measure"], item["measureValue"] = kind, low + n % (high - low + 1)
    if n % 5 != 1 or "measure" not in item:
        item["text"] = f"{_TEXTS[n % len(_TEXTS)]} (#{n % 97})"
    if n % 3 == 0:
        item["tags"] = [_TAGS[n % len(_TAGS)], _TAGS[(n // 8) % len(_TAGS)]]
    if n % 4 == 0:
        item["customerRef"] = f"cust-{n % 5000}"
    if event_names and n % 10 != 9:
        item["eventName"] = event_names[n % len(event_names)]
    return item


CSV_COLUMNS = (
    "source",
    "externalId",
    "measure",
    "measureValue",
    "text",
    "tags",
    "customerRef",
    "eventName",
    "occurredAt",
)


def write_feedback_csv(
    path: Path, rows: int, *, prefix: str | None = None, event_names: Sequence[str] = ()
) -> Path:
    """A CSV of ``rows`` unique items (external ids start with ``prefix``)."""
    prefix = prefix or f"bench-{uuid4().hex[:12]}"
    now = datetime.now(UTC) - timedelta(minutes=1)
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(CSV_COLUMNS)
        for n in range(rows):
            item = _item(n, prefix, event_names, now)
            item["tags"] = "|".join(item.get("tags", []))
            out.writerow([item.get(name, "") for name in CSV_COLUMNS])
    return path


async def workspace_event_names(database_url: str, workspace_id: UUID) -> tuple[str, ...]:
    """The event names the workspace's touchpoints list as match keys."""
    from sqlalchemy import select

    from backend.db.engine import Database
    from backend.db.scoping import TenantBinding
    from backend.models import Touchpoint

    db = Database(database_url)
    try:
        async with db.transaction(TenantBinding(frozenset({workspace_id}))) as session:
            keys = (await session.scalars(select(Touchpoint.match_keys))).all()
    finally:
        await db.dispose()
    return tuple(sorted({name for k in keys for name in (k or {}).get("event_names", [])}))


def _summary(output: str) -> tuple[int, int, int]:
    found = _SUMMARY.search(output)
    if found is None:
        raise RuntimeError(f"no summary in the import's output: {output!r}")
    accepted, duplicates, rejected = (int(g) for g in found.groups())
    return accepted, duplicates, rejected


async def bulk_import_rate(
    database_url: str,
    workspace_id: UUID,
    rows: int,
    workdir: Path,
    *,
    event_names: Sequence[str] | None = None,
    in_process: bool = False,
) -> Rate:
    """Write a CSV of ``rows`` unique rows and time importing it into the workspace.

    By default ``waypost import-feedback FILE --workspace ID --no-progress`` runs as a
    subprocess with ``WAYPOST_DATABASE_URL=database_url`` (interpreter start-up
    included); ``in_process`` times ``importer.import_file``, what the command runs.
    ``event_names`` are the match keys the rows carry (None: the workspace's own).
    Every row must come back accepted.
    """
    if event_names is None:
        event_names = await workspace_event_names(database_url, workspace_id)
    file = await asyncio.to_thread(_fresh_csv, workdir, rows, event_names)
    try:
        if in_process:
            seconds, counts = await _import_in_process(database_url, workspace_id, file)
        else:
            seconds, counts = await asyncio.to_thread(
                _import_subprocess, database_url, workspace_id, file
            )
    finally:
        await asyncio.to_thread(file.unlink, missing_ok=True)
    if counts != (rows, 0, 0):
        raise RuntimeError(f"expected {rows} accepted, got (accepted, dup, rejected) {counts}")
    return Rate(rows, seconds, rows / seconds)


def _fresh_csv(workdir: Path, rows: int, event_names: Sequence[str]) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"bench-{uuid4().hex[:8]}.csv"
    return write_feedback_csv(path, rows, event_names=event_names)


def _import_subprocess(
    database_url: str, workspace_id: UUID, file: Path
) -> tuple[float, tuple[int, int, int]]:
    env = {**os.environ, "WAYPOST_DATABASE_URL": database_url}
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own interpreter and CLI
        [*WAYPOST, "import-feedback", str(file), "--workspace", str(workspace_id), "--no-progress"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(
            f"import-feedback exited {done.returncode}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return seconds, _summary(done.stdout)


async def _import_in_process(
    database_url: str, workspace_id: UUID, file: Path
) -> tuple[float, tuple[int, int, int]]:
    from backend.db.engine import Database
    from backend.feedback import importer
    from backend.settings import Settings

    settings = Settings(database_url=database_url)
    db = Database(
        database_url,
        app_role=settings.database_app_role,
        pool_size=settings.database_pool_size,
    )
    try:
        started = time.perf_counter()
        source = importer.InputFile.open(file)
        report = await importer.import_file(db, source, workspace_id)
        seconds = time.perf_counter() - started
    finally:
        await db.dispose()
    return seconds, (report.accepted, report.duplicates, report.rejected)


def _bodies(batches: int, batch_size: int, event_names: Sequence[str], prefix: str) -> list[bytes]:
    now = datetime.now(UTC) - timedelta(minutes=1)
    template = [_item(n, "", event_names, now) for n in range(batch_size)]
    bodies = []
    for b in range(batches):
        for n, item in enumerate(template):
            item["externalId"] = f"{prefix}-{b}-{n}"
        bodies.append(json.dumps(template, separators=(",", ":")).encode())
    return bodies


async def http_ingestion_rate(
    base_url: str,
    ingestion_token: str,
    *,
    batches: int,
    batch_size: int = 1000,
    concurrency: int = 4,
    warmup_batches: int | None = None,
    event_names: Sequence[str] = DEFAULT_EVENT_NAMES,
) -> Rate:
    """Post ``batches`` unique batches of ``batch_size`` items at ``concurrency`` requests
    in flight and count the accepted items per second.

    Bodies are built before the clock starts; ``warmup_batches`` (default: one per
    client) go first, untimed. External ids carry a fresh uuid prefix, so no call ever
    repeats another's. Any answer other than 200 with every item accepted raises.
    """
    warmup = concurrency if warmup_batches is None else warmup_batches
    prefix = f"bench-{uuid4().hex[:12]}"
    bodies = _bodies(warmup + batches, batch_size, event_names, prefix)
    headers = {"authorization": f"Bearer {ingestion_token}", "content-type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    timeout = httpx.Timeout(120.0)

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout) as client:

        async def post(body: bytes) -> int:
            answer = await client.post(INGEST_PATH, content=body, headers=headers)
            if answer.status_code != 200:
                raise RuntimeError(f"ingestion answered {answer.status_code}: {answer.text[:500]}")
            counts = answer.json()
            if (counts["accepted"], counts["duplicates"], counts["rejected"]) != (
                batch_size,
                0,
                0,
            ):
                raise RuntimeError(f"expected {batch_size} accepted: {answer.text[:500]}")
            return int(counts["accepted"])

        async def run(queue: list[bytes]) -> int:
            total = 0

            async def client_loop() -> None:
                nonlocal total
                while queue:
                    accepted = await post(queue.pop())
                    total += accepted  # after the await: no update lost between clients

            await asyncio.gather(*(client_loop() for _ in range(concurrency)))
            return total

        await run(bodies[:warmup])
        timed = bodies[warmup:]
        timed.reverse()  # popped from the end: sent in order
        started = time.perf_counter()
        accepted = await run(timed)
        seconds = time.perf_counter() - started
    if accepted != batches * batch_size:
        raise RuntimeError(f"expected {batches * batch_size} accepted, counted {accepted}")
    return Rate(accepted, seconds, accepted / seconds)


async def prepare_workspace(
    database_url: str,
    *,
    touchpoints_per_stage: int = 2,
    event_names: Sequence[str] = DEFAULT_EVENT_NAMES,
) -> IngestWorld:
    """A new organization with one workspace, a current-state map of five stages whose
    touchpoints list ``event_names`` as match keys (spread over them), and an
    ingestion token; built through the services, as the API would."""
    from backend.audit.actor import Actor
    from backend.audit.recorder import bind_actor
    from backend.auth.subject import Operator
    from backend.authz.access import load_access
    from backend.db.engine import Database
    from backend.db.scoping import NO_TENANT
    from backend.feedback import ingestion
    from backend.journeys import maps, touchpoints
    from backend.journeys.commands import (
        AddTouchpoint,
        CreateJourneyMap,
        MapFields,
        MatchKeys,
        TouchpointFields,
    )
    from backend.models import Stage
    from backend.models.audit import ActorType
    from backend.tenancy import service
    from backend.vocabulary.journeys import MapStatus, MapTemplate
    from backend.vocabulary.roles import OrganizationKind

    db = Database(database_url)
    try:
        async with db.transaction(NO_TENANT, write=True) as session:
            bind_actor(session, Actor.system(request_id="bench.ingest"))
            made = await service.bootstrap_organization(
                session,
                org_slug=f"ingest-{uuid4().hex[:8]}",
                name="Ingest bench",
                kind=OrganizationKind.COMPANY,
                admin_email=f"bench-{uuid4().hex[:8]}@bench.example",
            )
        ws = made.workspace.id
        access = await load_access(db, Operator(user_id=made.admin.id, email=made.admin.email))
        actor = Actor(ActorType.USER, user_id=made.admin.id, request_id="bench.ingest")
        async with db.transaction(access.binding(), write=True) as session:
            bind_actor(session, actor)
            journey = await maps.create_journey_map(
                session,
                access,
                CreateJourneyMap(
                    ws,
                    MapFields(title="Ingest bench", status=MapStatus.ACTIVE),
                    template=MapTemplate.FIVE_STAGE,
                ),
            )
            map_id = journey.id
        async with db.transaction(access.binding()) as session:
            from sqlalchemy import select

            stage_ids = list(
                (
                    await session.scalars(
                        select(Stage.id)
                        .where(Stage.journey_map_id == map_id)
                        .order_by(Stage.position)
                    )
                ).all()
            )
        slots = [(s, t) for s in stage_ids for t in range(touchpoints_per_stage)]
        for index, (stage_id, t) in enumerate(slots):
            mine = [e for n, e in enumerate(event_names) if n % len(slots) == index]
            async with db.transaction(access.binding(), write=True) as session:
                bind_actor(session, actor)
                await touchpoints.add_touchpoint(
                    session,
                    access,
                    AddTouchpoint(
                        stage_id,
                        TouchpointFields(
                            name=f"Touchpoint {index}",
                            match_keys=MatchKeys(event_names=mine, survey_ids=[], url_patterns=[]),
                            moment_of_truth=t == 0,
                        ),
                    ),
                )
        async with db.transaction(access.binding(), write=True) as session:
            bind_actor(session, actor)
            issued = await ingestion.create_token(session, access, ws, "bench.ingest")
    finally:
        await db.dispose()
    return IngestWorld(ws, issued.secret, tuple(event_names))


def _median(rates: list[Rate]) -> str:
    per = [r.per_second for r in rates]
    return (
        f"median {statistics.median(per):,.0f}/s (min {min(per):,.0f}, max {max(per):,.0f}, "
        f"n={len(per)})"
    )


async def _main(args: argparse.Namespace) -> None:
    if args.command == "setup":
        world = await prepare_workspace(args.database_url)
        print(f"workspace {world.workspace_id}")
        print(f"token {world.ingestion_token}")
        print(f"event names {','.join(world.event_names)}")
        return
    rates: list[Rate] = []
    for _ in range(args.repeat):
        if args.command == "import":
            rate = await bulk_import_rate(
                args.database_url,
                UUID(args.workspace),
                args.rows,
                Path(args.workdir),
                in_process=args.in_process,
            )
        else:
            rate = await http_ingestion_rate(
                args.base_url,
                args.token,
                batches=args.batches,
                batch_size=args.batch_size,
                concurrency=args.concurrency,
            )
        print(rate, flush=True)
        rates.append(rate)
    print(_median(rates))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "WAYPOST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/waypost_ingdev"
        ),
    )
    parser.add_argument("--repeat", type=int, default=3)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("setup", help="build a workspace with match keys and an ingestion token")
    bulk = commands.add_parser("import", help="time waypost import-feedback on a fresh CSV")
    bulk.add_argument("--workspace", required=True)
    bulk.add_argument("--rows", type=int, default=100_000)
    bulk.add_argument("--workdir", default="var/bench-ingest")
    bulk.add_argument("--in-process", action="store_true")
    http = commands.add_parser("http", help="time POST /ingest/v1/feedback")
    http.add_argument("--base-url", default="http://127.0.0.1:8742")
    http.add_argument("--token", required=True)
    http.add_argument("--batches", type=int, default=40)
    http.add_argument("--batch-size", type=int, default=1000)
    http.add_argument("--concurrency", type=int, default=4)
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
