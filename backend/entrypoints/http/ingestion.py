"""POST /ingest/v1/feedback: feedback from other systems, with a workspace ingestion token.

The answer counts what was accepted, what were duplicates and what was rejected,
with each rejected item's index, field and reason, and says item by item where each
was placed: AMBIGUOUS and UNMATCHED items wait in the workspace's unplaced queue, the
touchpoints an ambiguous one fits listed with it. Good items are kept unless the
query says ``?mode=all-or-nothing`` (then any bad item keeps them all out: 422).
"""

from __future__ import annotations

from base64 import b64encode
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.audit import recorder as audit
from backend.audit.actor import Actor
from backend.auth import last_use
from backend.auth.service import bearer_token
from backend.authz.access import ingestion_access
from backend.db.engine import Database
from backend.db.types import utcnow
from backend.edge.body_limit import INGEST_MAX_BYTES, BodyTooLarge, read_body, too_large
from backend.errors import DomainError
from backend.feedback import ingestion, service, wire
from backend.feedback.commands import SubmitFeedback
from backend.json_output import JSONResponse
from backend.models import IngestionToken
from backend.models.audit import ActorType
from graphql_schema.errors import camel_path

PATH = "/ingest/v1/feedback"


def _error(status: int, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse(
        {
            "errors": [
                {
                    "code": "VALIDATION" if status < 500 else "INTERNAL",
                    "field": field,
                    "message": message,
                }
            ]
        },
        status_code=status,
    )


async def _authenticate(db: Database, secret: str | None) -> IngestionToken | None:
    """The live token behind the secret presented; its last use is noted (at most once a
    minute, in a short write transaction of its own: see ``backend.auth.last_use``)."""
    presented = ingestion.presenting(secret) if secret else None
    if secret is None or presented is None:
        return None
    async with db.transaction(presented) as session:
        token = await ingestion.authenticate(session, secret)
    if token is None:
        return None
    now = utcnow()
    if last_use.is_due(token.last_used_at, now):
        await last_use.stamp(db, IngestionToken, token.id, "last_used_at", now, presented)
    return token


def ingestion_routes(db: Database) -> list[Route]:
    async def ingest(request: Request) -> Response:
        token = await _authenticate(db, bearer_token(request.headers.get("authorization")))
        if token is None:
            return JSONResponse(
                {
                    "errors": [
                        {
                            "code": "UNAUTHENTICATED",
                            "field": None,
                            "message": "Send a live ingestion token as 'Authorization: Bearer …'.",
                        }
                    ]
                },
                status_code=401,
            )
        try:
            body = await read_body(request, INGEST_MAX_BYTES)
        except BodyTooLarge as refused:
            return too_large(refused.limit)
        mode = request.query_params.get("mode", "keep-good")
        if mode not in ("keep-good", "all-or-nothing"):
            return _error(400, "mode is keep-good or all-or-nothing.", "mode")
        try:
            items = wire.read_body(body, request.headers.get("content-type", ""))
        except DomainError as error:
            return _error(400, error.message, _wire(error.field))
        keep_all_or_none = mode == "all-or-nothing"
        access = ingestion_access(token.id, token.ingest_workspace_id)
        client = request.client
        actor = Actor(
            ActorType.INGESTION_TOKEN,
            token_id=token.id,
            request_id=request.scope.get("state", {}).get("request_id"),
            ip=client.host if client else None,
            user_agent=request.headers.get("user-agent"),
        )
        try:
            async with db.transaction(access.binding(), write=True) as session:
                audit.bind_actor(session, actor)
                batch = await service.submit(
                    session,
                    access,
                    SubmitFeedback(token.ingest_workspace_id, items),
                    locate=lambda index: f"[{index}]",
                )
                if keep_all_or_none and batch.count(service.Status.REJECTED):
                    raise _KeptNothing(batch)  # rolls the whole batch back
        except _KeptNothing as refused:
            return _answer(refused.batch, kept=False)
        except DomainError as error:
            return _error(400, error.message, _wire(error.field))
        return _answer(batch, kept=True)

    return [Route(PATH, ingest, methods=["POST"])]


class _KeptNothing(Exception):
    def __init__(self, batch: service.BatchResult) -> None:
        super().__init__("all or nothing: a bad item keeps the batch out")
        self.batch = batch


def _answer(batch: service.BatchResult, *, kept: bool) -> JSONResponse:
    errors = [_item_error(e) for r in batch.items for e in r.errors]
    if not kept:
        return JSONResponse(
            {"accepted": 0, "duplicates": 0, "rejected": len(errors), "errors": errors},
            status_code=422,
        )
    return JSONResponse(
        {
            "accepted": batch.count(service.Status.ACCEPTED),
            "duplicates": batch.count(service.Status.DUPLICATE),
            "rejected": batch.count(service.Status.REJECTED),
            "errors": errors,
            "placements": dict(sorted(batch.placements().items())),
            "items": [_placed(result) for result in batch.items],
        }
    )


def _placed(result: service.ItemResult) -> dict[str, Any]:
    """One item: its status and, once kept, its id (as the GraphQL API names it) and how
    it was placed; for an ambiguous one the touchpoints its match keys fit."""
    answer: dict[str, Any] = {"index": result.index, "status": result.status}
    kept = result.kept
    if kept is not None:
        # Read straight from the row's values: a batch answers up to 1,000 of these.
        answer["id"] = _global_id("Feedback", kept.id_text)
        answer["placement"] = kept.values["placement"]
        candidates = kept.values["placement_candidates"]
        if candidates:
            answer["candidates"] = [_global_id("Touchpoint", c) for c in candidates]
    return answer


def _global_id(type_name: str, node_id: str) -> str:
    """What ``str(strawberry.relay.GlobalID(type_name, node_id))`` makes, at a tenth of
    its cost."""
    return b64encode(f"{type_name}:{node_id}".encode()).decode()


def _item_error(error: DomainError) -> dict[str, Any]:
    """``[3].measure_value`` → index 3, field measureValue."""
    field = error.field or ""
    index: int | None = None
    if field.startswith("["):
        head, _, rest = field[1:].partition("]")
        index, field = int(head), rest.lstrip(".")
    return {"index": index, "field": _wire(field), "code": error.code, "message": error.message}


def _wire(field: str | None) -> str | None:
    return camel_path(field) if field else None
