"""Importing feedback from a file (CSV or NDJSON) into one workspace, for ``waypost
import-feedback``.

Each row is read by the HTTP ingestion's own reader (``ingestion.read_item``), so a
file takes exactly what ``POST /ingest/v1/feedback`` takes. Rows go to
``service.submit`` in chunks of at most ``service.MAX_BATCH``, one transaction each,
and are located by their line in the file. A checkpoint beside the file records the
last committed line, so an interrupted import resumes where it stopped; without it a
rerun is still safe, because re-sent items come back as duplicates.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.authz.access import ingestion_access
from backend.db.engine import Database
from backend.db.scoping import NO_TENANT
from backend.errors import NotFound, ValidationFailed
from backend.feedback import ingestion, service
from backend.feedback.service import Unreadable
from backend.models import Workspace

CHUNK_ROWS = service.MAX_BATCH
TAG_SEPARATOR = "|"
FORMATS = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson"}
CHECKPOINT_SUFFIX = ".import-progress.json"
_HEAD_BYTES = 64 * 1024  # enough of the file to tell it from an edited copy
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
# The import acts as the system, through the role an ingestion token has: an
# EDITOR's in the one workspace, feedback only. No token stands behind it.
_NO_TOKEN = UUID(int=0)


@dataclass(frozen=True)
class Row:
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
                if any(cell.strip() for cell in cells):
                    yield Row(start, end, self._csv_item(cells))

    def _csv_item(self, cells: list[str]) -> Mapping[str, Any] | Unreadable:
        """CSV cells into the JSON shape ``read_item`` checks: an empty cell is absent,
        ``measureValue`` a whole number, ``tags`` separated by ``|``."""
        if len(cells) != len(self.columns):
            return Unreadable(
                ValidationFailed(
                    f"Has {len(cells)} cells where the header has {len(self.columns)} columns."
                )
            )
        row: dict[str, Any] = {}
        for name, cell in zip(self.columns, cells, strict=True):
            if not cell.strip():
                continue
            if name == "measureValue":
                if not _WHOLE_NUMBER.fullmatch(cell.strip()):
                    return Unreadable(ValidationFailed("Must be a whole number.", field=name))
                row[name] = int(cell)
            elif name == "tags":
                row[name] = [tag.strip() for tag in cell.split(TAG_SEPARATOR) if tag.strip()]
            else:
                row[name] = cell
        return ingestion.read_item(row)


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
                        session, access, workspace_id, [r.item for r in chunk], locate=locate
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
        for chunk in _chunks(rows):
            async with db.transaction(access.binding(), write=True) as session:
                bind_actor(session, actor)
                batch = await service.submit(
                    session, access, workspace_id, [r.item for r in chunk], locate=locate
                )
            # Committed: only now does it count, and only now may a rerun skip it.
            report.add(batch, chunk)
            checkpoint.save(chunk[-1].last_line, report, notify)
            progress(chunk[-1].last_line)
    checkpoint.remove()
    progress(source.lines)
    return report
