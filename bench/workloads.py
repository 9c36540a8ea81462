"""The GraphQL documents `make bench` sends, and how a map read is compared across servers."""

from __future__ import annotations

import base64
import json
from typing import Any
from uuid import UUID

# Workload (a): the whole map, as a map editor opens it.
MAP_READ = """query MapRead($id: ID!) { journeyMap(id: $id) { id title version
  stages { id name position
    touchpoints { id name position emotion momentOfTruth
      painPoints { id title severity status }
      health { score confidence sampleSize previousScore } } } } }"""

# Workload (b): a workspace's dashboard, its maps with health and trend.
DASHBOARD = """query Dashboard($id: ID!) { workspace(id: $id) { name
  health { score trend sampleSize confidence }
  journeyMaps(first: 20, orderBy: UPDATED_AT) { totalCount edges { node {
    id title status version updatedAt
    health { score trend previousScore sampleSize confidence } } } } } }"""

# Workload (c): the edit in a mixed session (a touchpoint renamed, optimistic locking).
RENAME = """mutation Rename($input: UpdateTouchpointInput!) { updateTouchpoint(input: $input) {
  journeyMap { version } errors { code message } } }"""


def global_id(type_name: str, uuid: UUID) -> str:
    return base64.b64encode(f"{type_name}:{uuid}".encode()).decode()


def _uuid(gid: str) -> str:
    return base64.b64decode(gid).decode().partition(":")[2]


def body(query: str, variables: dict[str, Any]) -> bytes:
    return json.dumps({"query": query, "variables": variables}, separators=(",", ":")).encode()


def map_read_body(map_id: UUID) -> bytes:
    return body(MAP_READ, {"id": global_id("JourneyMap", map_id)})


def dashboard_body(workspace_id: UUID) -> bytes:
    return body(DASHBOARD, {"id": global_id("Workspace", workspace_id)})


def rename_template() -> str:
    """The edit's JSON body with ``%s`` for the touchpoint's id, its new name and the version."""
    marker = {"id": "@ID@", "name": "@NAME@", "expectedVersion": -1}
    text = body(RENAME, {"input": marker}).decode()
    return (
        text.replace("%", "%%")
        .replace('"@ID@"', '"%s"')
        .replace('"@NAME@"', '"%s"')
        .replace("-1", "%s")
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)


def canonical_map(response: dict[str, Any]) -> dict[str, Any]:
    """Waypost's (or the floor's) MapRead answer in the form bench.peers gives PostGraphile's."""
    if response.get("errors") or not (response.get("data") or {}).get("journeyMap"):
        raise ValueError(f"no map in the answer: {str(response)[:500]}")
    journey = response["data"]["journeyMap"]

    def health(score: dict[str, Any] | None) -> dict[str, Any] | None:
        if score is None:
            return None
        return {
            "score": _round(score["score"]),
            "confidence": _round(score["confidence"]),
            "sampleSize": score["sampleSize"],
            "previousScore": _round(score["previousScore"]),
        }

    def touchpoint(point: dict[str, Any]) -> dict[str, Any]:
        pains = [
            {
                "id": _uuid(p["id"]),
                "title": p["title"],
                "severity": p["severity"],
                "status": p["status"],
            }
            for p in point["painPoints"]
        ]
        return {
            "id": _uuid(point["id"]),
            "name": point["name"],
            "position": point["position"],
            "emotion": point["emotion"],
            "momentOfTruth": point["momentOfTruth"],
            "painPoints": sorted(pains, key=lambda p: p["id"]),
            "health": health(point["health"]),
        }

    stages = [
        {
            "id": _uuid(s["id"]),
            "name": s["name"],
            "position": s["position"],
            "touchpoints": sorted(
                (touchpoint(t) for t in s["touchpoints"]), key=lambda t: t["position"]
            ),
        }
        for s in journey["stages"]
    ]
    return {
        "id": _uuid(journey["id"]),
        "title": journey["title"],
        "version": journey["version"],
        "stages": sorted(stages, key=lambda s: s["position"]),
    }
