"""An initiative's statuses and the moves between them."""

from __future__ import annotations

from enum import StrEnum


class InitiativeStatus(StrEnum):
    IDEA = "IDEA"
    PLANNED = "PLANNED"
    IN_PROGRESS = "IN_PROGRESS"
    SHIPPED = "SHIPPED"
    DONE = "DONE"
    CANCELLED = "CANCELLED"


S = InitiativeStatus
# Forward along the delivery path, one step back where work really goes back, and
# out to CANCELLED until shipped. DONE is final; a cancelled idea can be reopened.
TRANSITIONS: dict[InitiativeStatus, frozenset[InitiativeStatus]] = {
    S.IDEA: frozenset({S.PLANNED, S.CANCELLED}),
    S.PLANNED: frozenset({S.IN_PROGRESS, S.IDEA, S.CANCELLED}),
    S.IN_PROGRESS: frozenset({S.SHIPPED, S.PLANNED, S.CANCELLED}),
    S.SHIPPED: frozenset({S.DONE, S.IN_PROGRESS}),
    S.DONE: frozenset(),
    S.CANCELLED: frozenset({S.IDEA}),
}


class InitiativeOrder(StrEnum):
    PRIORITY = "PRIORITY"  # highest RICE first
    UPDATED_AT = "UPDATED_AT"  # newest first
