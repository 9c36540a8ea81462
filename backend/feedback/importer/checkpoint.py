"""``FILE.import-progress.json``: how far an import of a file into a workspace got, so
that a rerun resumes after the last committed line."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from uuid import UUID

from backend.feedback.importer.files import InputFile
from backend.feedback.importer.report import Report
from backend.vocabulary.feedback import Placement


class Checkpoint:
    """The last line committed for a workspace, and the counts so far; written after
    each committed chunk, removed when the import ends."""

    def __init__(self, source: InputFile, workspace_id: UUID) -> None:
        self.path = source.checkpoint_path
        self._key: dict[str, object] = {
            "workspace_id": str(workspace_id),
            "file": source.identity,
        }

    def load(self, notify: Callable[[str], None]) -> tuple[int, Report] | None:
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
            matches = {k: saved.get(k) for k in self._key} == self._key
            line = int(saved["line"])
            report = Report(
                accepted=int(saved["accepted"]),
                duplicates=int(saved["duplicates"]),
                rejected=int(saved["rejected"]),
                placements=Counter(
                    {Placement(k): int(n) for k, n in saved.get("placements", {}).items()}
                ),
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
            "placements": {str(k): n for k, n in report.placements.items()},
        }
        partial = self.path.with_name(self.path.name + ".tmp")
        try:
            partial.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
            os.replace(partial, self.path)  # never a half-written checkpoint
        except OSError as error:
            notify(f"cannot write {self.path}: {error.strerror}; a rerun would start over")

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
