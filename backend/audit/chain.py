"""Hash chain arithmetic: canonical hashing of events and verification of a chain.

Pure functions over plain values, so the CLI, the worker and the tests check a
chain exactly the same way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Protocol
from uuid import UUID

GENESIS = "0" * 64


class ChainedEvent(Protocol):
    sequence: int
    occurred_at: datetime
    actor_type: Any
    actor_user_id: UUID | None
    actor_token_id: UUID | None
    action: str
    subject_type: str
    subject_id: str
    changes: dict[str, Any]
    request_id: str | None
    ip: str | None
    user_agent: str | None
    prev_hash: str
    hash: str


def to_json_value(value: Any) -> Any:
    """What a value becomes once stored as JSON and read back (hashed in that form)."""
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return _timestamp(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"cannot audit a value of type {type(value).__name__}")


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(scope: str, scope_id: UUID, event: ChainedEvent) -> str:
    document = {
        "scope": scope,
        "scope_id": str(scope_id),
        "sequence": event.sequence,
        "occurred_at": _timestamp(event.occurred_at),
        "actor_type": str(getattr(event.actor_type, "value", event.actor_type)),
        "actor_user_id": str(event.actor_user_id) if event.actor_user_id else None,
        "actor_token_id": str(event.actor_token_id) if event.actor_token_id else None,
        "action": event.action,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "changes": event.changes,
        "request_id": event.request_id,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "prev_hash": event.prev_hash,
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    scope: str
    scope_id: UUID
    checked: int
    last_sequence: int
    last_hash: str
    problem: str | None = None
    broken_at: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_chain(
    scope: str,
    scope_id: UUID,
    events: Iterable[ChainedEvent],
    *,
    head: tuple[int, str | None] | None,
    start: tuple[int, str] = (0, GENESIS),
    check_head: bool = True,
) -> ChainReport:
    """Check every link from ``start`` on, then that the chain ends where its head says.

    ``check_head=False`` checks links only, for feeding a long chain in batches.

    An edited event no longer matches its hash; a deleted one leaves a gap in the
    sequence (or, if it was the last, a chain shorter than its head); an inserted
    one either breaks the sequence, the next event's link, or outruns the head.
    """
    sequence, running = start
    checked = 0

    def broken(at: int, problem: str) -> ChainReport:
        return ChainReport(scope, scope_id, checked, sequence, running, problem, at)

    for event in events:
        expected = sequence + 1
        if event.sequence != expected:
            return broken(
                expected,
                f"event {expected} is missing (found {event.sequence} next): deleted or reordered",
            )
        if event.prev_hash != running:
            return broken(event.sequence, f"event {event.sequence} does not link to the one before")
        if event_hash(scope, scope_id, event) != event.hash:
            return broken(event.sequence, f"event {event.sequence} was changed after writing")
        sequence, running = event.sequence, event.hash
        checked += 1
    if not check_head:
        return ChainReport(scope, scope_id, checked, sequence, running)
    head_sequence, head_hash = head or (0, None)
    if sequence != head_sequence:
        return broken(
            min(sequence, head_sequence) + 1,
            f"the chain ends at event {sequence} but its head records event {head_sequence}: "
            "events were deleted from the end, or added past it",
        )
    if head_sequence and running != head_hash:
        return broken(
            sequence,
            f"event {sequence} is not the one the chain head recorded: it was rewritten",
        )
    return ChainReport(scope, scope_id, checked, sequence, running)


def changes_of(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """Field-level ``{field: {"before": …, "after": …}}`` for the fields that differ."""
    return {
        field: {"before": to_json_value(before.get(field)), "after": to_json_value(value)}
        for field, value in after.items()
        if to_json_value(before.get(field)) != to_json_value(value)
    }
