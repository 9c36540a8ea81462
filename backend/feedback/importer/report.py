"""What an import tells the person who ran it: counts, each rejected row's line, how the
rows were placed, and the lines of those left for an editor to place."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from backend.feedback import wire
from backend.feedback.importer.files import Row
from backend.feedback.results import BatchResult, Status
from backend.vocabulary.feedback import Placement

# Rows an editor has to place: their lines are listed.
UNPLACED = (Placement.AMBIGUOUS, Placement.UNMATCHED)


@dataclass(frozen=True)
class RowError:
    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return f"line {self.line}: {where}{self.message}"


@dataclass(frozen=True)
class UnplacedRow:
    line: int
    placement: Placement
    candidates: int  # touchpoints its match keys fit

    def __str__(self) -> str:
        why = (
            f"its match keys fit {self.candidates} touchpoints"
            if self.placement is Placement.AMBIGUOUS
            else "its match keys fit no touchpoint"
        )
        return f"line {self.line}: {self.placement}: {why}; it waits in the unplaced queue"


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
    # How the accepted rows were placed, over the whole import.
    placements: Counter[Placement] = field(default_factory=Counter)
    # This run's accepted rows waiting for an editor to place them.
    unplaced: list[UnplacedRow] = field(default_factory=list)

    def add(self, batch: BatchResult, rows: Sequence[Row]) -> None:
        self.accepted += batch.count(Status.ACCEPTED)
        self.duplicates += batch.count(Status.DUPLICATE)
        self.rejected += batch.count(Status.REJECTED)
        self.placements += batch.placements()
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
            if result.status is Status.ACCEPTED and result.placement in UNPLACED:
                self.unplaced.append(
                    UnplacedRow(
                        rows[result.index].first_line, result.placement, len(result.candidates)
                    )
                )

    def placement_summary(self) -> str:
        """``placed: MATCHED 3, AMBIGUOUS 1, NONE 2``: the accepted rows, by placement."""
        counts = ", ".join(f"{p} {self.placements[p]}" for p in Placement if self.placements[p])
        return f"placed: {counts or 'nothing new'}"
