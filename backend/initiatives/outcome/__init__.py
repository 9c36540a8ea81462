"""An initiative's outcome: did its touchpoints' answers change because of it?

``analysis`` (difference-in-differences, over ``evidence`` and ``spread``), ``trend``
(the target metric against its pre-launch line) and ``detection`` (the minimum
detectable effect while planned) are pure statistics, shared with
``bench/outcome_simulation.py``; ``loading`` reads the database and hands them their
inputs.
"""

from backend.initiatives.outcome.analysis import Analysis, Group, OutcomeMethod, OutcomeWarning
from backend.initiatives.outcome.detection import Detection
from backend.initiatives.outcome.loading import (
    Outcome,
    Window,
    outcome_of,
    planned_detection,
    touchpoints_of,
)
from backend.initiatives.outcome.trend import TrendCheck

__all__ = [
    "Analysis",
    "Detection",
    "Group",
    "Outcome",
    "OutcomeMethod",
    "OutcomeWarning",
    "TrendCheck",
    "Window",
    "outcome_of",
    "planned_detection",
    "touchpoints_of",
]
