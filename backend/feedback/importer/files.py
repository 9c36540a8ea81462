"""A feedback file (CSV or NDJSON) to import: checked up front, then read row by row
into commands by the HTTP ingestion's own reader (``wire``)."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple, TypedDict

from backend.errors import ValidationFailed
from backend.feedback import wire
from backend.feedback.commands import ItemInput, Unreadable

TAG_SEPARATOR = "|"
FORMATS = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson"}
CHECKPOINT_SUFFIX = ".import-progress.json"
_HEAD_BYTES = 64 * 1024  # enough of the file to tell it from an edited copy
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")


class Identity(TypedDict):
    """What tells a file from another, or from itself edited."""

    size: int
    mtime_ns: int
    head_sha256: str


class Row(NamedTuple):
    """One item of the file and the physical lines it spans (a quoted CSV cell may
    hold line breaks)."""

    first_line: int
    last_line: int
    item: ItemInput


class InputFile:
    """A file to import: its format, header (CSV), line count and identity, all checked
    before anything is written."""

    def __init__(self, path: Path, kind: str, lines: int, columns: list[str]) -> None:
        self.path = path
        self.kind = kind
        self.lines = lines
        self.columns = columns
        # Where each column's cells go in the item read_item would make of the row.
        self._keys = [wire.FIELDS[name][0] for name in columns]
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
                    item: ItemInput = Unreadable(ValidationFailed("Not JSON (one object a line)."))
                else:
                    item = wire.read_item(value)
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

    def _csv_item(self, cells: list[str]) -> ItemInput:
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
        values = wire.blank_values()
        for key, cell in zip(self._keys, cells, strict=True):
            if cell.strip():
                values[key] = cell
        value = values["measure_value"]
        if value is not None:
            if not _WHOLE_NUMBER.fullmatch(value.strip()):
                return Unreadable(
                    ValidationFailed("Must be a whole number.", field="measure_value")
                )
            values["measure_value"] = int(value)
        tags = values["tags"]
        if isinstance(tags, str):
            values["tags"] = [tag.strip() for tag in tags.split(TAG_SEPARATOR) if tag.strip()]
        return wire.read_typed(values)


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
    known = ", ".join(wire.FIELDS)
    if not any(columns):
        raise ValidationFailed(f"line 1 must name the columns ({known}).", field=where)
    seen: set[str] = set()
    for number, name in enumerate(columns, start=1):
        if not name:
            raise ValidationFailed(f"line 1: column {number} has no name.", field=where)
        if name not in wire.FIELDS:
            raise ValidationFailed(
                f"line 1: unknown column {name!r}; the columns are {known}.", field=where
            )
        if name in seen:
            raise ValidationFailed(f"line 1: column {name!r} appears twice.", field=where)
        seen.add(name)
    for name in wire.REQUIRED:
        if name not in seen:
            raise ValidationFailed(f"line 1: column {name!r} is required.", field=where)
    return columns


def _identity(path: Path) -> Identity:
    """Size, modification time and a hash of the file's first bytes."""
    stat = path.stat()
    with path.open("rb") as handle:
        head = hashlib.sha256(handle.read(_HEAD_BYTES)).hexdigest()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "head_sha256": head}
