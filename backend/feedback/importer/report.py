"""What an import tells the person who ran it: counts, and each rejected row's line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from backend.feedback import wire
from backend.feedback.importer.files import Row
from backend.feedback.results import BatchResult, Status


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

    def add(self, batch: BatchResult, rows: Sequence[Row]) -> None:
        self.accepted += batch.count(Status.ACCEPTED)
        self.duplicates += batch.count(Status.DUPLICATE)
        self.rejected += batch.count(Status.REJECTED)
        for result in batch.items:
            for error in result.errors:
                # The import locates an item by its index: "12.measure_value". The file
                # names the field by its column; an unknown field as it was written.
                _, _, bare = (error.field or "").partition(".")
                if bare and not isinstance(error, wire.UnknownField):
                    bare = wire.column_of(bare)
                self.errors.append(
                    RowError(rows[result.index].first_line, bare or None, error.message)
                )
