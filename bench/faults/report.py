"""The fault table, in Markdown, as docs/reliability.md shows it."""

from __future__ import annotations

from collections.abc import Sequence

from bench.faults.scenarios import Result

HEADER = (
    "| Scenario | Events lost | Applied twice | Errors by kind | Time to recover | Notes |\n"
    "|---|---|---|---|---|---|"
)


def row(result: Result) -> str:
    errors = ", ".join(f"{kind} {n}" for kind, n in sorted(result.errors.items())) or "none"
    recovered = "—" if result.recover_seconds is None else f"{result.recover_seconds:.1f} s"
    return (
        f"| {result.scenario} | {result.events_lost} | {result.applied_twice} | {errors} "
        f"| {recovered} | {result.note} |"
    )


def table(results: Sequence[Result], *, header: bool = True) -> str:
    lines = [row(r) for r in results]
    return "\n".join([HEADER, *lines] if header else lines)
