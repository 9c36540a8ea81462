"""How a metric reads and where its values come from."""

from __future__ import annotations

from enum import StrEnum


class MetricDirection(StrEnum):
    HIGHER_IS_BETTER = "HIGHER_IS_BETTER"
    LOWER_IS_BETTER = "LOWER_IS_BETTER"


class MetricSource(StrEnum):
    MANUAL = "MANUAL"
    IMPORT = "IMPORT"
    INGESTION = "INGESTION"
