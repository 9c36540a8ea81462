"""Feedback over HTTP: ingestion tokens (one workspace each, feedback only) and the
reading of a JSON array or NDJSON body into items for ``service.submit``.

Items sent this way attach to their touchpoint by match keys (event name, URL,
survey id), the way machines know a touchpoint; they name no ids.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.audit.chain import changes_of
from backend.auth import last_use
from backend.authz.access import Access
from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.db.types import utcnow
from backend.errors import NotFound, ValidationFailed
from backend.feedback.service import MAX_BATCH, MAX_TAGS, Unreadable
from backend.models import IngestionToken
from backend.validation import list_length, required_text
from backend.vocabulary.roles import WorkspaceRole

TOKEN_PREFIX = "wpin_"  # noqa: S105 - a public marker, not a secret
# camelCase on the wire, as in GraphQL; each with the JSON type it must have.
FIELDS: dict[str, tuple[str, tuple[type, ...]]] = {
    "source": ("source", (str,)),
    "externalId": ("external_id", (str,)),
    "channel": ("channel", (str,)),
    "measure": ("measure", (str,)),
    "measureValue": ("measure_value", (int,)),
    "text": ("text", (str,)),
    "tags": ("tags", (list,)),
    "customerRef": ("customer_ref", (str,)),
    "occurredAt": ("occurred_at", (str,)),
    "eventName": ("event_name", (str,)),
    "url": ("url", (str,)),
    "surveyId": ("survey_id", (str,)),
}
REQUIRED = ("source", "externalId")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedIngestionToken:
    token: IngestionToken
    secret: str


async def create_token(
    session: AsyncSession, access: Access, workspace_id: UUID, name: str
) -> IssuedIngestionToken:
    access.require_workspace(workspace_id, WorkspaceRole.ADMIN, field="workspaceId")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = IngestionToken(
        ingest_workspace_id=workspace_id,
        name=required_text(name, field="name"),
        prefix=secret[:12],
        secret_hash=_hash(secret),
        created_by=access.user_id,
    )
    session.add(token)
    await session.flush()
    await audit.record(
        session,
        workspace_id=workspace_id,
        action="ingestion_token.create",
        subject_type="IngestionToken",
        subject_id=token.id,
        changes=changes_of({}, {"name": token.name, "prefix": token.prefix}),
    )
    return IssuedIngestionToken(token, secret)


async def revoke_token(session: AsyncSession, access: Access, token_id: UUID) -> IngestionToken:
    token = await session.get(IngestionToken, token_id)
    if token is None or access.workspace_role(token.ingest_workspace_id) is None:
        raise NotFound("Ingestion token", field="id")
    access.require_workspace(token.ingest_workspace_id, WorkspaceRole.ADMIN, field="id")
    before = {"revoked_at": token.revoked_at}
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        await session.flush()
    await audit.record(
        session,
        workspace_id=token.ingest_workspace_id,
        action="ingestion_token.revoke",
        subject_type="IngestionToken",
        subject_id=token.id,
        changes=changes_of(before, {"revoked_at": token.revoked_at}),
    )
    return token


async def tokens_of(session: AsyncSession, workspace_id: UUID) -> list[IngestionToken]:
    return list(
        (
            await session.scalars(
                select(IngestionToken)
                .where(IngestionToken.ingest_workspace_id == workspace_id)
                .order_by(IngestionToken.created_at, IngestionToken.id)
            )
        ).all()
    )


async def authenticate(db: Database, secret: str) -> IngestionToken | None:
    """The live token behind a secret; its last use is noted (at most once a minute)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    presented = TenantBinding(secret_hash=_hash(secret))
    async with db.transaction(presented) as session:
        token = await session.scalar(
            select(IngestionToken).where(IngestionToken.secret_hash == _hash(secret))
        )
    if token is None or token.revoked_at is not None:
        return None
    now = utcnow()
    if last_use.is_due(token.last_used_at, now):
        await last_use.stamp(db, IngestionToken, token.id, "last_used_at", now, presented)
    return token


def read_body(
    body: bytes, content_type: str, *, max_items: int = MAX_BATCH
) -> list[Mapping[str, Any] | Unreadable]:
    """A JSON array, or NDJSON (one object a line), into items; the body as a whole must
    parse. More than ``max_items`` items are refused before any is read."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed("The body is not UTF-8.", field="body") from None
    if "ndjson" in content_type or "jsonlines" in content_type:
        # Split on line feeds only: splitlines() would also split inside a JSON string
        # holding U+2028 or another Unicode line break, which JSON allows unescaped.
        lines = [(n, line) for n, line in enumerate(text.split("\n"), start=1) if line.strip()]
        _at_most(lines, max_items)
        rows: list[Any] = []
        for number, line in lines:
            try:
                rows.append(json.loads(line))
            except (ValueError, RecursionError):
                raise ValidationFailed(f"Line {number} is not JSON.", field="body") from None
    else:
        try:
            rows = json.loads(text)
        except (ValueError, RecursionError):
            raise ValidationFailed("The body is not JSON.", field="body") from None
        if not isinstance(rows, list):
            raise ValidationFailed("Send a JSON array of items (or NDJSON).", field="body")
        _at_most(rows, max_items)
    return [read_item(row) for row in rows]


def _at_most(rows: list[Any], max_items: int) -> None:
    # The same answer service.submit gives, before any item is read.
    if len(rows) > max_items:
        raise ValidationFailed(f"At most {max_items} items at once.", field="items")


_NAMES = frozenset(FIELDS)
_WIRE_TYPES = {name: kinds for name, (_, kinds) in FIELDS.items()}
_KEYS = {name: key for name, (key, _) in FIELDS.items()}
_ABSENT: dict[str, Any] = {
    "journey_map_id": None,
    "stage_id": None,
    "touchpoint_id": None,
    "persona_id": None,
    **{key: None for key, _ in FIELDS.values()},
}


def read_item(row: Any) -> Mapping[str, Any] | Unreadable:
    """One item as sent (camelCase, JSON types) into ``service.submit``'s shape, or why not.

    Shared by every reader of outside items: HTTP bodies and file imports.
    """
    if not isinstance(row, dict):
        return Unreadable(ValidationFailed("Each item must be a JSON object."))
    if not _NAMES.issuperset(row):
        unknown = sorted(set(row) - _NAMES)
        return Unreadable(ValidationFailed("Unknown field.", field=unknown[0]))
    for name in REQUIRED:
        if row.get(name) is None:
            return Unreadable(ValidationFailed("Required.", field=name))
    values = dict(_ABSENT)
    values["tags"] = []
    for name, value in row.items():
        if value is None:
            continue
        if type(value) not in _WIRE_TYPES[name]:
            # Not the plain JSON type: let the field-by-field reading name the first problem.
            return _read_fields(row)
        values[_KEYS[name]] = value
    return _finish(values)


def _read_fields(row: dict[str, Any]) -> Mapping[str, Any] | Unreadable:
    """``read_item``'s checks field by field, in ``FIELDS`` order, so an item with several
    wrong types is told about the first of them."""
    values = dict(_ABSENT)
    values["tags"] = []
    for name, (key, kinds) in FIELDS.items():
        value = row.get(name)
        if value is None:
            continue
        if not isinstance(value, kinds) or isinstance(value, bool):
            kind = " or ".join(k.__name__ for k in kinds)
            return Unreadable(ValidationFailed(f"Must be a {kind}.", field=name))
        values[key] = value
    return _finish(values)


def blank_values() -> dict[str, Any]:
    """An item with none of the fields, in ``service.submit``'s shape: for a reader that
    fills in the fields with their JSON types itself (the file import) before
    ``read_typed``."""
    values = dict(_ABSENT)
    values["tags"] = []
    return values


def read_typed(values: dict[str, Any]) -> Mapping[str, Any] | Unreadable:
    """What ``read_item`` checks of an item that is in ``service.submit``'s shape already,
    with known fields of their JSON types only (a CSV row as the file import reads it):
    the required fields, the time and the tags. The same answer as ``read_item`` gives
    for the item in its camelCase form."""
    for name in REQUIRED:
        if values[_KEYS[name]] is None:
            return Unreadable(ValidationFailed("Required.", field=name))
    return _finish(values)


def _finish(values: dict[str, Any]) -> Mapping[str, Any] | Unreadable:
    try:
        list_length(values["tags"], field="tags", max_items=MAX_TAGS)  # before reading them
    except ValidationFailed as error:
        return Unreadable(error)
    if values["occurred_at"] is not None:
        try:
            moment = datetime.fromisoformat(values["occurred_at"])
        except ValueError:
            return Unreadable(ValidationFailed("Not an ISO 8601 time.", field="occurredAt"))
        if moment.tzinfo is None:
            return Unreadable(ValidationFailed("It needs a UTC offset.", field="occurredAt"))
        values["occurred_at"] = moment
    if not all(isinstance(tag, str) for tag in values["tags"]):
        return Unreadable(ValidationFailed("Tags are strings.", field="tags"))
    return values
