"""Survey definitions: what a measure on a feedback item answered, and on which scale."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, Timestamped, WorkspaceScoped
from backend.db.types import enum_column
from backend.vocabulary.feedback import MeasureKind


class SurveyDefinition(WorkspaceScoped, Timestamped, Base):
    """One version of a survey question: its kind, scale and direction.

    A version never changes once feedback may reference it: a new wording or scale
    is a new version under the same key, so old answers keep the scale they were
    given on. Ingestion and imports name a definition by ``key`` (the newest version).
    """

    __tablename__ = "survey_definitions"
    __table_args__ = (
        UniqueConstraint("workspace_id", "key", "version"),
        CheckConstraint("scale_min < scale_max", name="survey_scale_order"),
    )

    key: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=1)
    measure: Mapped[MeasureKind] = mapped_column(enum_column(MeasureKind, "survey_measure_kind"))
    scale_min: Mapped[int] = mapped_column(Integer)
    scale_max: Mapped[int] = mapped_column(Integer)
    higher_is_better: Mapped[bool] = mapped_column(default=True)
    question: Mapped[str] = mapped_column(Text, default="")
