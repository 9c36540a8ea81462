"""The floor for workload (a): raw asyncpg fetching a map's rows and orjson encoding them.

    BENCH_FLOOR_DSN=postgresql://postgres@127.0.0.1:5432/waypost_bench_medium \\
        .venv/bin/python -m bench.floor --port 8702 --workers 2

A bare ASGI app under uvicorn (same server and event loop as Waypost) that takes
Waypost's MapRead request body, reads only ``variables.id``, runs four prepared
statements on one pooled connection (map, stages, touchpoints with their health, pain
points) and returns byte-for-byte the JSON shape Waypost answers. No GraphQL, no
authentication, no tenant binding, no row-level security (it connects as the owner):
what is left is the unavoidable cost of fetching the rows and writing the JSON.
"""

from __future__ import annotations

import argparse
import base64
import os
from collections import defaultdict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from uuid import UUID

import asyncpg  # type: ignore[import-untyped]
import orjson
import uvicorn

DSN_VARIABLE = "BENCH_FLOOR_DSN"

MAP = (
    "SELECT workspace_id, id, title, version FROM journey_maps WHERE id = $1 AND deleted_at IS NULL"
)
STAGES = """SELECT id, name, position FROM stages
WHERE workspace_id = $1 AND journey_map_id = $2 ORDER BY position"""
TOUCHPOINTS = """SELECT t.id, t.stage_id, t.name, t.position, t.emotion, t.moment_of_truth,
       h.id AS scored, h.score, h.confidence, h.sample_size, h.previous_score
FROM touchpoints t
LEFT JOIN health_scores h ON h.workspace_id = t.workspace_id AND h.id = t.id
WHERE t.workspace_id = $1 AND t.journey_map_id = $2 ORDER BY t.position"""
PAIN_POINTS = """SELECT p.touchpoint_id, p.id, p.title, p.severity, p.status
FROM pain_points p JOIN touchpoints t ON t.workspace_id = p.workspace_id AND t.id = p.touchpoint_id
WHERE t.workspace_id = $1 AND t.journey_map_id = $2 ORDER BY p.created_at, p.id"""

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def _gid(type_name: str, uuid: UUID) -> str:
    return base64.b64encode(f"{type_name}:{uuid}".encode()).decode()


async def read_map(connection: Any, map_id: UUID) -> dict[str, Any] | None:
    journey = await connection.fetchrow(MAP, map_id)
    if journey is None:
        return None
    keys = (journey["workspace_id"], map_id)
    pains: dict[UUID, list[dict[str, Any]]] = defaultdict(list)
    for p in await connection.fetch(PAIN_POINTS, *keys):
        pains[p["touchpoint_id"]].append(
            {
                "id": _gid("PainPoint", p["id"]),
                "title": p["title"],
                "severity": p["severity"],
                "status": p["status"],
            }
        )
    points: dict[UUID, list[dict[str, Any]]] = defaultdict(list)
    for t in await connection.fetch(TOUCHPOINTS, *keys):
        health = None
        if t["scored"] is not None:
            health = {
                "score": t["score"],
                "confidence": t["confidence"],
                "sampleSize": t["sample_size"],
                "previousScore": t["previous_score"],
            }
        points[t["stage_id"]].append(
            {
                "id": _gid("Touchpoint", t["id"]),
                "name": t["name"],
                "position": t["position"],
                "emotion": t["emotion"],
                "momentOfTruth": t["moment_of_truth"],
                "painPoints": pains.get(t["id"], []),
                "health": health,
            }
        )
    stages = [
        {
            "id": _gid("Stage", s["id"]),
            "name": s["name"],
            "position": s["position"],
            "touchpoints": points.get(s["id"], []),
        }
        for s in await connection.fetch(STAGES, *keys)
    ]
    return {
        "id": _gid("JourneyMap", map_id),
        "title": journey["title"],
        "version": journey["version"],
        "stages": stages,
    }


def _map_id(body: bytes) -> UUID | None:
    try:
        gid = orjson.loads(body)["variables"]["id"]
        type_name, _, raw = base64.b64decode(gid).decode().partition(":")
        return UUID(raw) if type_name == "JourneyMap" else None
    except (ValueError, KeyError, TypeError):
        return None


class Floor:
    def __init__(self) -> None:
        self.pool: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        map_id = _map_id(body)
        async with self.pool.acquire() as connection:
            found = await read_map(connection, map_id) if map_id else None
        payload = orjson.dumps({"data": {"journeyMap": found}})
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.pool = await asyncpg.create_pool(os.environ[DSN_VARIABLE], max_size=10)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


app = Floor()

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8702)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(
        "bench.floor:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
    )
