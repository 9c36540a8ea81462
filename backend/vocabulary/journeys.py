"""The words of journey mapping: statuses, channels, screens, severities."""

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


EMOTION_RANGE = range(-2, 3)  # -2 (very negative) to +2 (very positive)
