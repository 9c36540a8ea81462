"""The item index of ``scales`` as a SQL expression, so the database sums answers.

A query that uses ``item_index()`` must outer-join the answer's survey definition with
``join_definition``; an answer without one is read on its kind's default scale.
``tests/measures`` holds this expression to ``scales.item_index`` on every scale.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, and_, case, cast, func, literal
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from backend.measures.scales import DEFAULT_SCALES, NPS_PASSIVE, NPS_PROMOTER
from backend.models import Feedback, SurveyDefinition
from backend.vocabulary.feedback import MeasureKind

# The alias every query joins definitions under (its own FROM entry, whatever else
# the query reads).
definition = aliased(SurveyDefinition, name="answer_definition")


def join_definition() -> tuple[Any, ColumnElement[bool]]:
    """``(target, onclause)`` for ``select(...).outerjoin(*join_definition())``."""
    return definition, and_(
        definition.workspace_id == Feedback.workspace_id,
        definition.id == Feedback.survey_definition_id,
    )


def _default(attribute: str) -> ColumnElement[Any]:
    return case(
        *(
            (Feedback.measure == kind, literal(getattr(scale, attribute)))
            for kind, scale in DEFAULT_SCALES.items()
        )
    )


def scale_low() -> ColumnElement[Any]:
    return func.coalesce(definition.scale_min, _default("low"))


def scale_high() -> ColumnElement[Any]:
    return func.coalesce(definition.scale_max, _default("high"))


def higher_is_better() -> ColumnElement[Any]:
    return func.coalesce(definition.higher_is_better, _default("higher_is_better"))


def item_index() -> ColumnElement[float]:
    """0..100 for an answer with a measure and a value; NULL otherwise."""
    value = cast(Feedback.measure_value, Float)
    low, high = cast(scale_low(), Float), cast(scale_high(), Float)
    better = higher_is_better()
    place = (value - low) / (high - low)
    top_two = case((better, value >= high - 1.0), else_=value <= low + 1.0)
    return case(
        (Feedback.measure_value.is_(None), None),
        (
            Feedback.measure == MeasureKind.NPS,
            case(
                (value >= NPS_PROMOTER, 100.0),
                (value >= NPS_PASSIVE, 50.0),
                else_=0.0,
            ),
        ),
        (Feedback.measure == MeasureKind.CSAT, case((top_two, 100.0), else_=0.0)),
        (Feedback.measure.is_not(None), 100.0 * case((better, place), else_=1.0 - place)),
    )
