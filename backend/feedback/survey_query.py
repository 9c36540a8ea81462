"""What a request for survey results asks: how answers are grouped and pooled, over
which period, narrowed to which part of the workspace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID


class Grouping(StrEnum):
    """One row set per touchpoint, stage, map, persona, channel, the whole workspace,
    or per time bucket of when the answer was given (UTC days, Monday weeks, months)."""

    TOUCHPOINT = "TOUCHPOINT"
    STAGE = "STAGE"
    JOURNEY_MAP = "JOURNEY_MAP"
    WORKSPACE = "WORKSPACE"
    PERSONA = "PERSONA"
    CHANNEL = "CHANNEL"
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


TIME_BUCKETS = frozenset({Grouping.DAY, Grouping.WEEK, Grouping.MONTH})


class Pooling(StrEnum):
    """Which answers share a row within a group.

    DEFINITION: one row per survey definition (key and version), and one for answers
    that name none (read on their kind's default scale).
    SCALE: definitions whose answers mean the same thing are pooled: every NPS
    together (always 0-10, the same three classes); CSAT, CES and RATING only when
    scale and direction are the same. A 1-5 and a 1-7 CES are never averaged together.
    """

    DEFINITION = "DEFINITION"
    SCALE = "SCALE"


@dataclass(frozen=True)
class SurveyFilter:
    """Only answers placed on this map, stage or touchpoint, or given to this survey key."""

    journey_map_id: UUID | None = None
    stage_id: UUID | None = None
    touchpoint_id: UUID | None = None
    survey_key: str | None = None


@dataclass(frozen=True)
class SurveyResultsQuery:
    workspace_id: UUID
    group_by: Grouping = Grouping.WORKSPACE
    starts: datetime | None = None  # default: ``DEFAULT_DAYS`` before ``ends``
    ends: datetime | None = None  # default: now
    filter: SurveyFilter = SurveyFilter()
    pooling: Pooling = Pooling.DEFINITION
