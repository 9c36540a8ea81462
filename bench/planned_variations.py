"""Documents the planned executor (graphql_schema/engine.py) must answer exactly as the
ordinary one does: each takes ``$id`` (a JourneyMap's global id) and may take more
variables, listed with it. Used by bench.inproc_map_read and tests/graphql."""

from __future__ import annotations

from typing import Any

from bench.workloads import MAP_READ

VARIATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "map read": (MAP_READ, {}),
    "aliases": (
        """query A($id: ID!) { journeyMap(id: $id) { t: title
          s: stages { n: name i: id tp: touchpoints { id nm: name pos: position
            pp: painPoints { title sev: severity } h: health { s: score n: sampleSize } } }
          again: stages { name } } }""",
        {},
    ),
    "fragments and __typename": (
        """query F($id: ID!) { journeyMap(id: $id) { __typename ...M } }
        fragment M on JourneyMap { id stages { __typename ... on Stage { name }
          touchpoints { ...T } } }
        fragment T on Touchpoint { __typename id name channel device customerActions
          matchKeys { eventNames urlPatterns }
          health { ...H } painPoints { __typename id createdAt status } }
        fragment H on HealthScore { __typename state score low high trend computedAt
          components { name value weight sampleSize priorShare } }""",
        {},
    ),
    "include and skip": (
        """query S($id: ID!, $deep: Boolean!, $noPains: Boolean!) { journeyMap(id: $id) {
          stages { name touchpoints @include(if: $deep) { name
            painPoints @skip(if: $noPains) { title } emotion @skip(if: true) } } } }""",
        {"deep": True, "noPains": True},
    ),
    "include and skip, other values": (
        """query S($id: ID!, $deep: Boolean!, $noPains: Boolean!) { journeyMap(id: $id) {
          stages { name touchpoints @include(if: $deep) { name
            painPoints @skip(if: $noPains) { title } emotion @skip(if: true) } } } }""",
        {"deep": True, "noPains": False},
    ),
    "merged selections": (
        """query G($id: ID!) { journeyMap(id: $id) { stages { id }
          stages { name touchpoints { id } touchpoints { name painPoints { id } } } } }""",
        {},
    ),
    "unplannable inside (a persona's resolver)": (
        """query P($id: ID!) { journeyMap(id: $id) { stages { name touchpoints { name
          personaEmotions { current persona { name } } painPoints { title }
          opportunities { title painPointId } } } } }""",
        {},
    ),
    "stage and map health": (
        """query H($id: ID!) { journeyMap(id: $id) { health { score parts scoredParts }
          stages { health { score trend previousScore } } } }""",
        {},
    ),
}
