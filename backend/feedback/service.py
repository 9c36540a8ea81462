"""Taking feedback in: validated item by item, idempotent, attached to its touchpoint.

Every door (GraphQL, HTTP ingestion, file imports) goes through ``submit``. An item
is accepted, a duplicate (its source and external id are already in the workspace,
or earlier in the same batch: the first one wins), or rejected with located errors.
Good items are kept unless the caller asks for all or nothing. Feedback that names no
touchpoint but carries a match key (event name, URL, survey id) attaches by itself to
the one touchpoint of a current-state map that lists the key; when several do, or
none, it stays unattached rather than guess, and says so in its ``placement`` (the
unplaced queue, ``backend.feedback.queue``, is where an editor places it). An item
naming a survey key is read on that survey's newest version's scale.

What is already stored, or was stored a moment ago by a concurrent request, comes
back as a duplicate instead of an error (``repository.batch``); the stored rows that
carry this batch's ids are its own. The ``Feedback`` objects a caller may want
(GraphQL answers with them) are only built when asked for.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.audit.chain import changes_of
from backend.authz.access import Access
from backend.db.pagination import Page, PageRequest
from backend.db.scoping import require_bound
from backend.db.types import utcnow
from backend.errors import DomainError, ValidationFailed
from backend.feedback import placement
from backend.feedback.checks import MAX_BATCH, MAX_TAGS, MAX_TEXT, check_item, survey_keys
from backend.feedback.commands import FeedbackItem, SubmitFeedback, Unreadable
from backend.feedback.repository import FeedbackRepository, Key, new_ids
from backend.feedback.results import BatchResult, ItemResult, Kept, Status
from backend.feedback.surveys import newest_of_keys
from backend.models import Feedback
from backend.outbox import emit as outbox
from backend.vocabulary.audit import AuditAction
from backend.vocabulary.feedback import FeedbackSource, SentimentStatus
from backend.vocabulary.roles import WorkspaceRole

__all__ = [
    "MAX_BATCH",
    "MAX_TAGS",
    "MAX_TEXT",
    "BatchResult",
    "ItemResult",
    "Status",
    "announce_received",
    "feedback_page",
    "submit",
]


def _at(prefix: str, error: DomainError) -> DomainError:
    error.field = f"{prefix}.{error.field}" if error.field else prefix
    return error


def _item_at(index: int) -> str:
    return f"items[{index}]"


async def submit(
    session: AsyncSession,
    access: Access,
    command: SubmitFeedback,
    *,
    locate: Callable[[int], str] = _item_at,
    in_turn: Callable[[], Awaitable[None]] | None = None,
    max_items: int = MAX_BATCH,
) -> BatchResult:
    """Take in a batch; ``locate`` names where item ``index`` is in the caller's input.

    ``in_turn`` is awaited once the batch's rows are written and before its audit and
    outbox events are appended, which lock the workspace's chain until the transaction
    ends: a caller with several batches in flight (the file import) waits there for the
    batch before to commit, so that they commit in order and never wait on each other
    the other way round.

    ``max_items`` is ``MAX_BATCH`` for what comes over the network (HTTP, GraphQL); the
    file import, the system reading a local file, sends bigger chunks.
    """
    workspace_id, items = command.workspace_id, command.items
    access.require_workspace(workspace_id, WorkspaceRole.EDITOR, field="workspace_id")
    if not items:
        raise ValidationFailed("Send at least one item.", field="items")
    if len(items) > max_items:
        raise ValidationFailed(f"At most {max_items} items at once.", field="items")
    require_bound(session, workspace_id, "Feedback")
    repository = FeedbackRepository(session)
    readable = [item for item in items if isinstance(item, FeedbackItem)]
    placing = await placement.load(session, workspace_id, (item.persona_id for item in readable))
    # One query for every survey key the batch names (none when it names none).
    keys = survey_keys(readable)
    surveys = await newest_of_keys(session, workspace_id, keys) if keys else {}
    now = utcnow()
    results: list[ItemResult] = []
    first: dict[Key, Kept] = {}  # the first item of each key in the batch
    rejected: list[DomainError] = []
    for index, item in enumerate(items):
        try:
            if isinstance(item, Unreadable):
                raise item.error
            values = check_item(item, now, surveys)
            placing.place(values)
        except DomainError as error:
            rejected.append(_at(locate(index), error))
            results.append(ItemResult(index, Status.REJECTED, [rejected[-1]]))
            continue
        key = (values["source"], values["external_id"])
        kept = first.get(key)
        if kept is not None:
            results.append(ItemResult(index, Status.DUPLICATE, [], kept))
            continue
        values["workspace_id"] = workspace_id
        values["sentiment"] = None
        values["sentiment_status"] = SentimentStatus.PENDING  # the worker reads the text
        values["language"] = None
        values["received_at"] = now
        first[key] = kept = Kept(values)
        results.append(ItemResult(index, Status.ACCEPTED, [], kept))
    if command.all_or_nothing and rejected:
        raise rejected[0]  # the caller's payload lists the first; nothing is written
    fresh = list(first.values())
    for kept, new_id in zip(fresh, new_ids(len(fresh), now), strict=True):
        kept.values["id"] = new_id
    if await repository.insert_new(workspace_id, fresh, now) < len(fresh):
        # Some were stored before (or by a concurrent batch just now): what was kept
        # then stays. The stored rows that carry an id of this batch are this batch's.
        stored = await repository.stored(workspace_id, first)
        replaced: dict[int, Kept] = {}
        for key, kept in first.items():
            found = stored.get(key)
            if found is None:
                raise RuntimeError(f"feedback {key} was neither inserted nor found")
            if found.id != kept.id:
                replaced[id(kept)] = found
        for result in results:
            if result.kept is not None and id(result.kept) in replaced:
                result.status = Status.DUPLICATE
                result.kept = replaced[id(result.kept)]
    if in_turn is not None:
        await in_turn()
    accepted = [r.kept for r in results if r.status == Status.ACCEPTED and r.kept is not None]
    batch = BatchResult(results)
    single = len(items) == 1 and accepted
    await audit.record(
        session,
        workspace_id=workspace_id,
        action=AuditAction.FEEDBACK_SUBMIT,
        # One item names itself; a batch is the workspace's.
        subject_type="Feedback" if single else "FeedbackBatch",
        subject_id=accepted[0].id if single else workspace_id,
        changes=changes_of(
            {},
            {
                "accepted": len(accepted),
                "duplicates": batch.count(Status.DUPLICATE),
                "rejected": len(rejected),
            },
        ),
    )
    if accepted:
        await announce_received(
            session,
            workspace_id,
            [k.id_text for k in accepted],
            {k.values["touchpoint_id"] for k in accepted},
            [k.values["occurred_at"] for k in accepted],
        )
    return batch


async def announce_received(
    session: AsyncSession,
    workspace_id: UUID,
    feedback_ids: list[str],
    touchpoint_ids: Iterable[UUID | None],
    occurred_at: Collection[datetime],
) -> None:
    """The event new evidence raises: its sentiment is scored and the health of the
    touchpoints it is on recalculated (feedback placed by hand raises it too), and
    their history of the days it reaches (the distinct UTC days it happened on)."""
    await outbox.emit(
        session,
        workspace_id,
        "feedback.received",
        {
            "feedback_ids": feedback_ids,
            "touchpoint_ids": sorted(str(t) for t in set(touchpoint_ids) if t),
            "earliest_occurred_at": min(occurred_at).isoformat(),
            "occurred_days": sorted({t.astimezone(UTC).date().isoformat() for t in occurred_at}),
        },
    )


async def feedback_page(
    session: AsyncSession,
    workspace_id: UUID,
    *,
    touchpoint_id: UUID | None,
    source: FeedbackSource | None,
    page: PageRequest,
) -> Page[Feedback]:
    return await FeedbackRepository(session).page(
        workspace_id, touchpoint_id=touchpoint_id, source=source, page=page
    )
