"""Running an import: the transaction boundary of ``waypost import-feedback``.

Rows go to ``service.submit`` in chunks of at most ``CHUNK_ROWS``, one transaction
each, and are located by their line in the file. A checkpoint beside the file records
the last committed line, so an interrupted import resumes where it stopped; without it
a rerun is still safe, because re-sent items come back as duplicates. With all or
nothing, every chunk goes in one transaction that commits only if no row was rejected.
The service never commits: the chunks' transactions, and their order, are this
module's.
"""

from __future__ import annotations

import asyncio
import gc
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from uuid import UUID

from backend import gc_tuning
from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.authz.access import Access, ingestion_access
from backend.db.engine import Database
from backend.db.scoping import NO_TENANT
from backend.errors import NotFound
from backend.feedback import service
from backend.feedback.commands import SubmitFeedback
from backend.feedback.importer.checkpoint import Checkpoint
from backend.feedback.importer.files import InputFile, Row
from backend.feedback.importer.report import Report
from backend.feedback.repository import FeedbackRepository
from backend.feedback.results import BatchResult

# Rows a transaction. Bigger than the network's batches (service.MAX_BATCH): a chunk's
# transaction, stamp, audit and outbox events and checkpoint cost the same whatever
# its size, and at 1,000 rows they were a fifth of the import (19-20k -> 25k rows/s).
CHUNK_ROWS = 2_500
# Chunks in flight at once on Postgres (see _commit_in_order).
IN_FLIGHT = 2
# The import acts as the system, through the role an ingestion token has: an
# EDITOR's in the one workspace, feedback only. No token stands behind it.
_NO_TOKEN = UUID(int=0)


def _chunks(rows: Iterable[Row]) -> Iterator[list[Row]]:
    chunk: list[Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _command(workspace_id: UUID, chunk: list[Row]) -> SubmitFeedback:
    return SubmitFeedback(workspace_id, [r.item for r in chunk])


class _KeptNothing(Exception):
    """All or nothing, and a row was bad: rolls the import's one transaction back."""


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Garbage collection set for an import while it runs (see ``backend.gc_tuning``).

    The command is a short-lived process: what is alive at the start (the program it
    loaded) is also frozen out of collections for the duration, and thawed after.
    """
    gc.freeze()
    try:
        with gc_tuning.fewer_collections():
            yield
    finally:
        gc.unfreeze()


async def import_file(
    db: Database,
    source: InputFile,
    workspace_id: UUID,
    *,
    all_or_nothing: bool = False,
    restart: bool = False,
    notify: Callable[[str], None] = lambda message: None,
    progress: Callable[[int], None] = lambda line: None,
) -> Report:
    """Import ``source`` into the workspace; ``progress`` hears the last line done.

    Chunk by chunk, each its own transaction (good rows kept, bad rows reported), or,
    with ``all_or_nothing``, every chunk in one transaction that commits only if no row
    was rejected.
    """
    with _fewer_collections():
        return await _import_file(
            db,
            source,
            workspace_id,
            all_or_nothing=all_or_nothing,
            restart=restart,
            notify=notify,
            progress=progress,
        )


async def _import_file(
    db: Database,
    source: InputFile,
    workspace_id: UUID,
    *,
    all_or_nothing: bool,
    restart: bool,
    notify: Callable[[str], None],
    progress: Callable[[int], None],
) -> Report:
    async with db.transaction(NO_TENANT) as session:
        if not await FeedbackRepository(session).workspace_exists(workspace_id):
            # The command's flag, not a domain path: the CLI names it --workspace.
            raise NotFound("Workspace", field="workspaceId")
    access = ingestion_access(_NO_TOKEN, workspace_id)
    # The audit trail's request id column holds 64 characters.
    actor = Actor.system(request_id=f"import-feedback:{source.path.name}"[:64])
    checkpoint = Checkpoint(source, workspace_id)
    saved = None if restart else checkpoint.load(notify)
    after, report = saved or (0, Report())
    if saved:
        notify(f"resuming after line {after} ({checkpoint.path.name}; --restart starts over)")
    progress(after)
    rows = (row for row in source.rows() if row.first_line > after)

    if all_or_nothing:
        tally = Report()
        try:
            async with db.transaction(access.binding(), write=True) as session:
                bind_actor(session, actor)
                for chunk in _chunks(rows):
                    batch = await service.submit(
                        session,
                        access,
                        _command(workspace_id, chunk),
                        locate=str,
                        max_items=CHUNK_ROWS,
                    )
                    tally.add(batch, chunk)
                    progress(chunk[-1].last_line)
                if tally.rejected:
                    raise _KeptNothing
        except _KeptNothing:
            return Report(rejected=tally.rejected, errors=tally.errors, kept=False)
        report.accepted += tally.accepted
        report.duplicates += tally.duplicates
        report.placements += tally.placements
        report.unplaced += tally.unplaced
    else:

        async def committed(batch: BatchResult, chunk: list[Row]) -> None:
            # Committed: only now does it count, and only now may a rerun skip it.
            report.add(batch, chunk)
            # Off the event loop: a file system busy with the database's writes can take
            # milliseconds to replace a file, time the chunk in flight can use.
            await asyncio.to_thread(checkpoint.save, chunk[-1].last_line, report, notify)
            progress(chunk[-1].last_line)

        await _commit_in_order(db, access, actor, workspace_id, _chunks(rows), committed)
    checkpoint.remove()
    progress(source.lines)
    return report


async def _commit_in_order(
    db: Database,
    access: Access,
    actor: Actor,
    workspace_id: UUID,
    chunks: Iterable[list[Row]],
    committed: Callable[[BatchResult, list[Row]], Awaitable[None]],
) -> None:
    """Each chunk in its own transaction, committed in the file's order, ``committed``
    told of each in that order.

    On Postgres two chunks are in flight: while one is written and committed, the next
    is read, checked and inserted in a second transaction, so the import's own work and
    the database's overlap. The second waits for the first to commit before it appends
    to the workspace's audit chain (``service.submit``'s ``in_turn``), and rolls back if
    the first failed: what is committed is always a prefix of the file. SQLite takes one
    writer at a time: one chunk after the other.
    """
    depth = IN_FLIGHT if db.dialect == "postgresql" else 1

    async def write(chunk: list[Row], before: asyncio.Task[BatchResult] | None) -> BatchResult:
        async def in_turn() -> None:
            if before is not None:
                await asyncio.shield(before)  # its failure is this chunk's too

        async with db.transaction(access.binding(), write=True) as session:
            bind_actor(session, actor)
            return await service.submit(
                session,
                access,
                _command(workspace_id, chunk),
                locate=str,
                in_turn=in_turn,
                max_items=CHUNK_ROWS,
            )

    inflight: deque[tuple[asyncio.Task[BatchResult], list[Row]]] = deque()
    try:
        for chunk in chunks:
            before = inflight[-1][0] if inflight else None
            inflight.append((asyncio.create_task(write(chunk, before)), chunk))
            if len(inflight) == depth:
                task, done = inflight.popleft()
                await committed(await task, done)
        while inflight:
            task, done = inflight.popleft()
            await committed(await task, done)
    finally:
        # Only after a failure (or an interruption): the chunks behind it roll back.
        for task, _ in inflight:
            task.cancel()
        await asyncio.gather(*(task for task, _ in inflight), return_exceptions=True)
