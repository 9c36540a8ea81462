"""The words of journey mapping: statuses, channels, screens, severities, what made a
revision and how two revisions differ."""

from __future__ import annotations

from enum import StrEnum


class MapStatus(StrEnum):
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"


class Scenario(StrEnum):
    CURRENT_STATE = "CURRENT_STATE"
    FUTURE_STATE = "FUTURE_STATE"


class MapOrder(StrEnum):
    TITLE = "TITLE"
    UPDATED_AT = "UPDATED_AT"  # newest first
    # HEALTH arrives with health scores.


class MapTemplate(StrEnum):
    BLANK = "BLANK"
    FIVE_STAGE = "FIVE_STAGE"


FIVE_STAGES = ("Awareness", "Consideration", "Purchase", "Retention", "Advocacy")


class Channel(StrEnum):
    WEB = "WEB"
    MOBILE_APP = "MOBILE_APP"
    SOCIAL = "SOCIAL"
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    SMS = "SMS"
    CHAT = "CHAT"
    IN_APP = "IN_APP"
    IN_STORE = "IN_STORE"
    EVENT = "EVENT"
    MAIL = "MAIL"


class Device(StrEnum):
    SMARTPHONE = "SMARTPHONE"
    DESKTOP = "DESKTOP"
    TABLET = "TABLET"
    TV = "TV"
    KIOSK = "KIOSK"


class Severity(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


class PainPointStatus(StrEnum):
    OPEN = "OPEN"
    RESOLVED = "RESOLVED"


class OpportunityStatus(StrEnum):
    OPEN = "OPEN"
    PLANNED = "PLANNED"
    DONE = "DONE"
    DISCARDED = "DISCARDED"


class RevisionAction(StrEnum):
    """What made a map's revision, as ``journey_map_revisions.action`` stores it: a restore
    stores ``journey_map.restore:<version>``, a copy ``journey_map.duplicate:<source id>``.
    The same texts name these changes in the audit trail."""

    JOURNEY_MAP_CREATE = "journey_map.create"
    JOURNEY_MAP_DUPLICATE = "journey_map.duplicate"
    JOURNEY_MAP_RESTORE = "journey_map.restore"
    JOURNEY_MAP_UPDATE = "journey_map.update"
    OPPORTUNITY_ADD = "opportunity.add"
    OPPORTUNITY_REMOVE = "opportunity.remove"
    OPPORTUNITY_UPDATE = "opportunity.update"
    PAIN_POINT_ADD = "pain_point.add"
    PAIN_POINT_REMOVE = "pain_point.remove"
    PAIN_POINT_UPDATE = "pain_point.update"
    PERSONA_DELETE = "persona.delete"  # the system unlinking a deleted persona
    STAGE_ADD = "stage.add"
    STAGE_MOVE = "stage.move"
    STAGE_REMOVE = "stage.remove"
    STAGE_UPDATE = "stage.update"
    TOUCHPOINT_ADD = "touchpoint.add"
    TOUCHPOINT_MOVE = "touchpoint.move"
    TOUCHPOINT_REMOVE = "touchpoint.remove"
    TOUCHPOINT_UPDATE = "touchpoint.update"
    # Read only: a stored action this version does not know (one a newer version wrote).
    UNKNOWN = "unknown"

    @classmethod
    def of(cls, stored: str) -> RevisionAction:
        """The action a stored text names, whatever detail follows its ``:``."""
        try:
            action = cls(stored.split(":", 1)[0])
        except ValueError:
            return cls.UNKNOWN
        return action

    def stored(self, detail: object = None) -> str:
        """The text to store: the action, and ``:detail`` when there is one."""
        return self.value if detail is None else f"{self.value}:{detail}"


class ChangeKind(StrEnum):
    """How a field or an item differs between two revisions."""

    ADDED = "ADDED"
    REMOVED = "REMOVED"
    CHANGED = "CHANGED"


EMOTION_RANGE = range(-2, 3)  # -2 (very negative) to +2 (very positive)
