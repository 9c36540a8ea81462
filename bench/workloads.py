"""The GraphQL documents `make bench` sends to Waypost, and each answer's canonical form.

The canonical forms (``canonical_map``, ``canonical_dashboard``, ``canonical_feedback``,
``canonical_audit``) are what bench.peers' functions of the same names make of
PostGraphile's answers: `make bench` fails when the two differ, so that both servers
are measured doing the same work.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
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

# Workload (f): a workspace's feedback list, newest first, 100 items with where each is
# attached. Touchpoint has no journeyMap field: an item's map is its own `journeyMap`
# link (the map of its touchpoint, as ingestion places it).
FEEDBACK_LIST = """query FeedbackList($id: ID!) { workspace(id: $id) {
  feedback(first: 100) { totalCount edges { node {
    id source measure measureValue text sentiment occurredAt receivedAt
    touchpoint { id name } journeyMap { id title } } } } } }"""

# Workload (g): a workspace's audit trail, newest first, 100 events with who acted.
AUDIT_TRAIL = """query AuditTrail($id: ID!) { workspace(id: $id) {
  auditEvents(first: 100) { totalCount edges { node {
    sequence occurredAt action subjectType subjectId changes
    actor { type tokenId user { id name email } } } } } } }"""

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


def feedback_list_body(workspace_id: UUID) -> bytes:
    return body(FEEDBACK_LIST, {"id": global_id("Workspace", workspace_id)})


def audit_trail_body(workspace_id: UUID) -> bytes:
    return body(AUDIT_TRAIL, {"id": global_id("Workspace", workspace_id)})


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


def moment(value: str) -> str:
    """A DateTime as either server writes it, in one spelling (UTC, microseconds)."""
    return datetime.fromisoformat(value).astimezone(UTC).isoformat(timespec="microseconds")


def _workspace(response: dict[str, Any], field: str) -> Any:
    """``data.workspace.<field>``, or ValueError when the answer has errors or lacks it."""
    workspace = (response.get("data") or {}).get("workspace")
    if response.get("errors") or not workspace or workspace.get(field) is None:
        raise ValueError(f"no workspace {field} in the answer: {str(response)[:500]}")
    return workspace[field]


def _nodes(connection: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in connection["edges"]]


def canonical_dashboard(response: dict[str, Any]) -> dict[str, Any]:
    """Waypost's Dashboard answer: the workspace, its score, its maps in the order given."""
    maps = _workspace(response, "journeyMaps")
    workspace = response["data"]["workspace"]

    def health(score: dict[str, Any] | None, *, previous: bool) -> dict[str, Any] | None:
        if score is None:
            return None
        found = {
            "score": _round(score["score"]),
            "trend": _round(score["trend"]),
            "sampleSize": score["sampleSize"],
            "confidence": _round(score["confidence"]),
        }
        if previous:
            found["previousScore"] = _round(score["previousScore"])
        return found

    return {
        "name": workspace["name"],
        "health": health(workspace["health"], previous=False),
        "totalCount": maps["totalCount"],
        "maps": [
            {
                "id": _uuid(m["id"]),
                "title": m["title"],
                "status": m["status"],
                "version": m["version"],
                "updatedAt": moment(m["updatedAt"]),
                "health": health(m["health"], previous=True),
            }
            for m in _nodes(maps)
        ],
    }


def canonical_feedback(response: dict[str, Any]) -> dict[str, Any]:
    """Waypost's FeedbackList answer: the count and the items in the order given."""
    page = _workspace(response, "feedback")

    def item(node: dict[str, Any]) -> dict[str, Any]:
        point, journey = node["touchpoint"], node["journeyMap"]
        return {
            "id": _uuid(node["id"]),
            "source": node["source"],
            "measure": node["measure"],
            "measureValue": node["measureValue"],
            "text": node["text"],
            "sentiment": _round(node["sentiment"]),
            "occurredAt": moment(node["occurredAt"]),
            "receivedAt": moment(node["receivedAt"]),
            "touchpoint": point and {"id": _uuid(point["id"]), "name": point["name"]},
            "journeyMap": journey and {"id": _uuid(journey["id"]), "title": journey["title"]},
        }

    return {"totalCount": page["totalCount"], "items": [item(n) for n in _nodes(page)]}


def canonical_audit(response: dict[str, Any]) -> dict[str, Any]:
    """Waypost's AuditTrail answer: the count and the events in the order given."""
    page = _workspace(response, "auditEvents")

    def event(node: dict[str, Any]) -> dict[str, Any]:
        actor, user = node["actor"], node["actor"]["user"]
        return {
            "sequence": node["sequence"],
            "occurredAt": moment(node["occurredAt"]),
            "action": node["action"],
            "subjectType": node["subjectType"],
            "subjectId": _uuid(node["subjectId"]),
            "changes": node["changes"],
            "actor": {
                "type": actor["type"],
                "tokenId": actor["tokenId"] and _uuid(actor["tokenId"]),
                "user": user
                and {"id": _uuid(user["id"]), "name": user["name"], "email": user["email"]},
            },
        }

    return {"totalCount": page["totalCount"], "events": [event(n) for n in _nodes(page)]}
