"""Hash chain arithmetic: canonical signing of events and verification of a chain.

Pure functions over plain values, so the CLI, the worker and the tests check a
chain exactly the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Protocol
from uuid import UUID

import orjson

from backend.crypto.audit_keys import LEGACY_KEY_ID, AuditKey, AuditKeyring
from backend.vocabulary.audit import AuditAction

GENESIS = "0" * 64
# The event that vouches for a chain's unkeyed (legacy) events: only the upgrade that
# introduced keys writes it (migrations/versions/0016_*); the recorder refuses to.
SEAL_ACTION = AuditAction.AUDIT_CHAIN_SEAL.value


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
    key_id: str


def to_json_value(value: Any, *, finite: bool = False) -> Any:
    """What a value becomes once stored as JSON and read back (hashed in that form).
    ``finite``: refuse NaN and the infinities (ValueError), which JSON has no text for:
    an audit event's changes are stored as orjson writes them, which is null."""
    return json.loads(json.dumps(value, default=_json_default, allow_nan=not finite))


def to_stored_json(value: Any) -> Any:
    """``to_json_value`` for a large document that is stored, not hashed (a map's
    revision): the same values, through orjson, some 5x faster. Anything orjson does not
    write as ``json`` does (text keys only, 64-bit integers) takes ``to_json_value``."""
    try:
        encoded = orjson.dumps(value, default=_json_default, option=orjson.OPT_PASSTHROUGH_DATETIME)
    except orjson.JSONEncodeError:
        return to_json_value(value)
    return orjson.loads(encoded)


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


def _canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(scope: str, scope_id: UUID, event: ChainedEvent, key: AuditKey | None) -> str:
    """What ``event.hash`` must be: HMAC-SHA256 under ``key`` over the event and the
    key's id; with no key, the plain SHA-256 that events written before keys carry."""
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
    if key is None:
        return hashlib.sha256(_canonical(document)).hexdigest()
    document["key_id"] = key.id
    return hmac.new(key.secret, _canonical(document), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Position:
    """How far a chain has been verified: its last good event and, while unkeyed
    events still wait for the keyed seal that vouches for them, the first of them."""

    sequence: int = 0
    hash: str = GENESIS
    unkeyed_from: int | None = None


@dataclass(frozen=True)
class ChainReport:
    scope: str
    scope_id: UUID
    checked: int
    last_sequence: int
    last_hash: str
    problem: str | None = None
    broken_at: int | None = None
    unkeyed_from: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def position(self) -> Position:
        return Position(self.last_sequence, self.last_hash, self.unkeyed_from)


def verify_chain(
    scope: str,
    scope_id: UUID,
    events: Iterable[ChainedEvent],
    *,
    keys: AuditKeyring,
    head: tuple[int, str | None] | None,
    start: Position = Position(),
    check_head: bool = True,
) -> ChainReport:
    """Check every link from ``start`` on, then that the chain ends where its head says.

    ``check_head=False`` checks links only, for feeding a long chain in batches.

    An edited event no longer matches its hash, which only the key's holder can
    compute; a deleted one leaves a gap in the sequence (or, if it was the last, a
    chain shorter than its head); an inserted one either breaks the sequence, the
    next event's link, or outruns the head. Unkeyed (legacy) events are accepted only
    as a chain's first events, vouched for by the keyed seal that the upgrade to keyed
    chains appended after them: anyone can compute their hash.
    """
    sequence, running, unkeyed_from = start.sequence, start.hash, start.unkeyed_from
    checked = 0

    def broken(at: int, problem: str) -> ChainReport:
        return ChainReport(scope, scope_id, checked, sequence, running, problem, at, unkeyed_from)

    for event in events:
        expected = sequence + 1
        if event.sequence != expected:
            return broken(
                expected,
                f"event {expected} is missing (found {event.sequence} next): deleted or reordered",
            )
        if event.prev_hash != running:
            return broken(event.sequence, f"event {event.sequence} does not link to the one before")
        key: AuditKey | None = None
        if event.key_id == LEGACY_KEY_ID:
            if sequence > 0 and unkeyed_from is None:
                return broken(
                    event.sequence,
                    f"event {event.sequence} is unkeyed but follows keyed events: forged",
                )
        else:
            key = keys.find(event.key_id)
            if key is None:
                return broken(
                    event.sequence,
                    f"event {event.sequence} is signed with key {event.key_id!r}, neither the "
                    "current audit key nor a retired one (WAYPOST_AUDIT_RETIRED_KEYS)",
                )
        if not hmac.compare_digest(event_hash(scope, scope_id, event, key), event.hash):
            return broken(event.sequence, f"event {event.sequence} was changed after writing")
        if key is None:
            unkeyed_from = unkeyed_from or event.sequence
        elif unkeyed_from is not None:
            if event.action != SEAL_ACTION:
                return broken(unkeyed_from, _unsealed(unkeyed_from, sequence))
            unkeyed_from = None
        sequence, running = event.sequence, event.hash
        checked += 1
    if not check_head:
        return ChainReport(scope, scope_id, checked, sequence, running, unkeyed_from=unkeyed_from)
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
    if unkeyed_from is not None:
        return broken(unkeyed_from, _unsealed(unkeyed_from, sequence))
    return ChainReport(scope, scope_id, checked, sequence, running)


def _unsealed(first: int, last: int) -> str:
    events = f"event {first} is" if first == last else f"events {first} to {last} are"
    return (
        f"{events} unkeyed and no keyed seal follows: forged (only events written before "
        "chains were keyed may be unkeyed, and the upgrade sealed those)"
    )


def changes_of(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """Field-level ``{field: {"before": …, "after": …}}`` for the fields that differ."""
    return {
        field: {"before": to_json_value(before.get(field)), "after": to_json_value(value)}
        for field, value in after.items()
        if to_json_value(before.get(field)) != to_json_value(value)
    }
