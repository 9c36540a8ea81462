"""Importing feedback from a file (CSV or NDJSON) into one workspace, for ``waypost
import-feedback``.

Each row is read by the HTTP ingestion's own reader (``ingestion.read_item``), so a
file takes exactly what ``POST /ingest/v1/feedback`` takes. Rows go to
``service.submit`` in chunks of at most ``CHUNK_ROWS``, one transaction each,
and are located by their line in the file. A checkpoint beside the file records the
last committed line, so an interrupted import resumes where it stopped; without it a
rerun is still safe, because re-sent items come back as duplicates.
"""

from __future__ import annotations

import asyncio
import csv
import gc
import hashlib
import json
import os
import re
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple
from uuid import UUID

from backend import gc_tuning
from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.authz.access import Access, ingestion_access
from backend.db.engine import Database
from backend.db.scoping import NO_TENANT
from backend.errors import NotFound, ValidationFailed
from backend.feedback import ingestion, service
from backend.feedback.service import Unreadable
from backend.models import Workspace

# Rows a transaction. Bigger than the network's batches (service.MAX_BATCH): a chunk's
# transaction, stamp, audit and outbox events and checkpoint cost the same whatever
# its size, and at 1,000 rows they were a fifth of the import (19-20k -> 25k rows/s).
CHUNK_ROWS = 2_500
# Chunks in flight at once on Postgres (see _commit_in_order).
IN_FLIGHT = 2
TAG_SEPARATOR = "|"
FORMATS = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson"}
CHECKPOINT_SUFFIX = ".import-progress.json"
_HEAD_BYTES = 64 * 1024  # enough of the file to tell it from an edited copy
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
# The import acts as the system, through the role an ingestion token has: an
# EDITOR's in the one workspace, feedback only. No token stands behind it.
_NO_TOKEN = UUID(int=0)


class Row(NamedTuple):
    """One item of the file and the physical lines it spans (a quoted CSV cell may
    hold line breaks)."""

    first_line: int
    last_line: int
    item: Mapping[str, Any] | Unreadable


@dataclass(frozen=True)
class RowError:
    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return f"line {self.line}: {where}{self.message}"


@dataclass
class Report:
    """Counts over the whole import, including what an interrupted run committed."""

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    # This run's rejected rows (an earlier, interrupted run listed its own).
    errors: list[RowError] = field(default_factory=list)
    # False when all or nothing was asked for and a bad row kept the file out.
    kept: bool = True

    def add(self, batch: service.BatchResult, rows: list[Row]) -> None:
        self.accepted += batch.count(service.Status.ACCEPTED)
        self.duplicates += batch.count(service.Status.DUPLICATE)
        self.rejected += batch.count(service.Status.REJECTED)
        for result in batch.items:
            for error in result.errors:
                # ``locate`` put the item's index in front of the field: "12.measureValue".
                _, _, bare = (error.field or "").partition(".")
                self.errors.append(
                    RowError(rows[result.index].first_line, bare or None, error.message)
                )


class InputFile:
    """A file to import: its format, header (CSV), line count and identity, all checked
    before anything is written."""

    def __init__(self, path: Path, kind: str, lines: int, columns: list[str]) -> None:
        self.path = path
        self.kind = kind
        self.lines = lines
        self.columns = columns
        # Where each column's cells go in the item read_item would make of the row.
        self._keys = [ingestion.FIELDS[name][0] for name in columns]
        self.identity = _identity(path)

    @classmethod
    def open(cls, path: Path) -> InputFile:
        where = str(path)
        kind = FORMATS.get(path.suffix.lower())
        if kind is None:
            raise ValidationFailed(
                "Not a .csv, .ndjson or .jsonl file (the name's ending tells the format).",
                field=where,
            )
        if not path.is_file():
            raise ValidationFailed("No such file.", field=where)
        lines = _count_utf8_lines(path, where)
        columns = _header(path, where) if kind == "csv" else []
        return cls(path, kind, lines, columns)

    @property
    def checkpoint_path(self) -> Path:
        return self.path.with_name(self.path.name + CHECKPOINT_SUFFIX)

    def rows(self) -> Iterator[Row]:
        """Every item of the file in order; blank lines are skipped."""
        return self._csv_rows() if self.kind == "csv" else self._ndjson_rows()

    def _ndjson_rows(self) -> Iterator[Row]:
        with self.path.open(encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except (ValueError, RecursionError):
                    item: Mapping[str, Any] | Unreadable = Unreadable(
                        ValidationFailed("Not JSON (one object a line).")
                    )
                else:
                    item = ingestion.read_item(value)
                yield Row(number, number, item)

    def _csv_rows(self) -> Iterator[Row]:
        with self.path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            next(reader)  # the header, checked by open()
            end = reader.line_num
            while True:
                start = end + 1
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as error:
                    end = reader.line_num
                    yield Row(start, end, Unreadable(ValidationFailed(f"Not readable: {error}.")))
                    continue
                end = reader.line_num
                if "".join(cells).strip():  # a row of empty cells is a blank line
                    yield Row(start, end, self._csv_item(cells))

    def _csv_item(self, cells: list[str]) -> Mapping[str, Any] | Unreadable:
        """CSV cells into the item ``read_item`` would make of them as JSON: an empty cell
        is absent, ``measureValue`` a whole number, ``tags`` separated by ``|``. The cells
        are strings, the header holds known columns only: what is left to check is
        ``read_typed``'s."""
        if len(cells) != len(self.columns):
            return Unreadable(
                ValidationFailed(
                    f"Has {len(cells)} cells where the header has {len(self.columns)} columns."
                )
            )
        values = ingestion.blank_values()
        for key, cell in zip(self._keys, cells, strict=True):
            if cell.strip():
                values[key] = cell
        value = values["measure_value"]
        if value is not None:
            if not _WHOLE_NUMBER.fullmatch(value.strip()):
                return Unreadable(ValidationFailed("Must be a whole number.", field="measureValue"))
            values["measure_value"] = int(value)
        tags = values["tags"]
        if isinstance(tags, str):
            values["tags"] = [tag.strip() for tag in tags.split(TAG_SEPARATOR) if tag.strip()]
        return ingestion.read_typed(values)


def _count_utf8_lines(path: Path, where: str) -> int:
    """The file's lines (for the progress bar), refusing one that is not UTF-8 text up
    front rather than after part of it went in."""
    lines = 0
    with path.open("rb") as handle:
        for lines, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                raise ValidationFailed(f"line {lines}: not UTF-8 text.", field=where) from None
    return lines


def _header(path: Path, where: str) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        try:
            header = next(csv.reader(handle), [])
        except csv.Error as error:
            raise ValidationFailed(f"line 1: not readable: {error}.", field=where) from None
    columns = [name.strip() for name in header]
    known = ", ".join(ingestion.FIELDS)
    if not any(columns):
        raise ValidationFailed(f"line 1 must name the columns ({known}).", field=where)
    seen: set[str] = set()
    for number, name in enumerate(columns, start=1):
        if not name:
            raise ValidationFailed(f"line 1: column {number} has no name.", field=where)
        if name not in ingestion.FIELDS:
            raise ValidationFailed(
                f"line 1: unknown column {name!r}; the columns are {known}.", field=where
            )
        if name in seen:
            raise ValidationFailed(f"line 1: column {name!r} appears twice.", field=where)
        seen.add(name)
    for name in ingestion.REQUIRED:
        if name not in seen:
            raise ValidationFailed(f"line 1: column {name!r} is required.", field=where)
    return columns


def _identity(path: Path) -> dict[str, Any]:
    """What tells this file from another, or from itself edited: size, modification
    time and a hash of its first bytes."""
    stat = path.stat()
    with path.open("rb") as handle:
        head = hashlib.sha256(handle.read(_HEAD_BYTES)).hexdigest()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "head_sha256": head}


class Checkpoint:
    """``FILE.import-progress.json``: the last line committed for a workspace, and the
    counts so far; written after each committed chunk, removed when the import ends."""

    def __init__(self, source: InputFile, workspace_id: UUID) -> None:
        self.path = source.checkpoint_path
        self._key = {"workspace_id": str(workspace_id), "file": source.identity}

    def load(self, notify: Callable[[str], None]) -> tuple[int, Report] | None:
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
            matches = {k: saved.get(k) for k in self._key} == self._key
            line = int(saved["line"])
            report = Report(
                accepted=int(saved["accepted"]),
                duplicates=int(saved["duplicates"]),
                rejected=int(saved["rejected"]),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            notify(f"ignoring {self.path.name}: not a readable checkpoint; starting at line 1")
            return None
        if not matches:
            notify(
                f"ignoring {self.path.name}: it is for another workspace or another version "
                "of the file; starting at line 1"
            )
            return None
        return line, report

    def save(self, line: int, report: Report, notify: Callable[[str], None]) -> None:
        state = {
            **self._key,
            "line": line,
            "accepted": report.accepted,
            "duplicates": report.duplicates,
            "rejected": report.rejected,
        }
        partial = self.path.with_name(self.path.name + ".tmp")
        try:
            partial.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
            os.replace(partial, self.path)  # never a half-written checkpoint
        except OSError as error:
            notify(f"cannot write {self.path}: {error.strerror}; a rerun would start over")

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def _chunks(rows: Iterable[Row]) -> Iterator[list[Row]]:
    chunk: list[Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


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
        if await session.get(Workspace, workspace_id) is None:
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

    def locate(index: int) -> str:
        return str(index)

    if all_or_nothing:
        tally = Report()
        try:
            async with db.transaction(access.binding(), write=True) as session:
                bind_actor(session, actor)
                for chunk in _chunks(rows):
                    batch = await service.submit(
                        session,
                        access,
                        workspace_id,
                        [r.item for r in chunk],
                        locate=locate,
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
    else:

        async def committed(batch: service.BatchResult, chunk: list[Row]) -> None:
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
    committed: Callable[[service.BatchResult, list[Row]], Awaitable[None]],
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

    async def write(
        chunk: list[Row], before: asyncio.Task[service.BatchResult] | None
    ) -> service.BatchResult:
        async def in_turn() -> None:
            if before is not None:
                await asyncio.shield(before)  # its failure is this chunk's too

        async with db.transaction(access.binding(), write=True) as session:
            bind_actor(session, actor)
            return await service.submit(
                session,
                access,
                workspace_id,
                [r.item for r in chunk],
                locate=str,
                in_turn=in_turn,
                max_items=CHUNK_ROWS,
            )

    inflight: deque[tuple[asyncio.Task[service.BatchResult], list[Row]]] = deque()
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
