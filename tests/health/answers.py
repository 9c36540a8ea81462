"""Evidence from answers, summed in Python as the evidence SQL sums them (item indexes on
each kind's default scale), for tests of the pure model."""

from __future__ import annotations

from collections.abc import Iterable

from backend.health import model
from backend.measures.scales import DEFAULT_SCALES, item_index
from backend.measures.stats import Moments
from backend.vocabulary.feedback import MeasureKind

Answer = tuple[MeasureKind, int]


def evidence(answers: Iterable[Answer] = (), sentiments: Iterable[float] = ()) -> model.Evidence:
    found: dict[model.Metric, Moments] = {}
    readings = [(model.metric_of(k), item_index(DEFAULT_SCALES[k], v)) for k, v in answers]
    readings += [(model.Metric.SENTIMENT, model.sentiment_index(s)) for s in sentiments]
    for metric, x in readings:
        found[metric] = found.get(metric, Moments()) + Moments(1, x, x * x)
    return found
