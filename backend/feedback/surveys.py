"""Survey definitions: the questions a workspace's measures answer, each on its own scale.

A definition is versioned under its key. Changing the wording, the scale or the direction
makes a new version rather than editing the old one, so answers already in keep the scale
they were given on; feedback that names a key is read on that key's newest version.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.audit.chain import changes_of
from backend.authz.access import Access
from backend.errors import Conflict, NotFound, ValidationFailed
from backend.feedback.commands import CreateSurveyDefinition, ReviseSurveyDefinition
from backend.feedback.repository.surveys import SurveyRepository
from backend.measures.scales import DEFAULT_SCALES, Scale
from backend.models import SurveyDefinition
from backend.outbox import emit as outbox
from backend.patch import UNSET
from backend.validation import Checks, optional_text, required_text
from backend.vocabulary.audit import AuditAction
from backend.vocabulary.feedback import MeasureKind
from backend.vocabulary.roles import WorkspaceRole

FIELDS = ("key", "version", "measure", "scale_min", "scale_max", "higher_is_better", "question")
# Every scale lies within this range; the answer column is a small integer.
SCALE_BOUNDS = (0, 100)
# Top-2-box needs a point below the two best ones to mean anything.
MIN_POINTS = 3
MAX_QUESTION = 2000


def scale_of(definition: SurveyDefinition) -> Scale:
    """The scale an answer naming this definition is read on."""
    return Scale(
        definition.measure, definition.scale_min, definition.scale_max, definition.higher_is_better
    )


def checked_scale(measure: MeasureKind, low: int, high: int, higher_is_better: bool) -> Scale:
    """The scale, if a survey of this kind can have it; each error names the field to fix."""
    ends = ((low, "scale_min"), (high, "scale_max"))
    with Checks() as check:
        if measure is MeasureKind.NPS:
            nps = DEFAULT_SCALES[MeasureKind.NPS]
            for (value, field), wanted in zip(ends, (nps.low, nps.high), strict=True):
                if value != wanted:
                    check.fail(ValidationFailed("NPS is asked on 0 to 10.", field=field))
            if not higher_is_better:
                check.fail(ValidationFailed("On NPS higher is better.", field="higher_is_better"))
            return nps
        bottom, top = SCALE_BOUNDS
        for value, field in ends:
            if not bottom <= value <= top:
                check.fail(ValidationFailed(f"Must be between {bottom} and {top}.", field=field))
        if check.failures:
            pass  # the ends are compared only once each is one a scale can have
        elif high <= low:
            check.fail(ValidationFailed("Must be above the minimum.", field="scale_max"))
        elif high - low + 1 < MIN_POINTS:
            check.fail(
                ValidationFailed(f"A scale needs at least {MIN_POINTS} points.", field="scale_max")
            )
    return Scale(measure, low, high, higher_is_better)


def _snapshot(definition: SurveyDefinition) -> dict[str, object]:
    return {name: getattr(definition, name) for name in FIELDS}


def _question(value: str | None) -> str:
    return optional_text(value, field="question", max_length=MAX_QUESTION)


async def create_survey_definition(
    session: AsyncSession, access: Access, command: CreateSurveyDefinition
) -> SurveyDefinition:
    workspace_id = command.workspace_id
    access.require_workspace(workspace_id, WorkspaceRole.EDITOR, field="workspace_id")
    with Checks() as check:  # every field's mistake at once, in the input's order
        key = check(required_text, command.key, field="key", max_length=200)
        scale = check(
            checked_scale,
            command.measure,
            command.scale_min,
            command.scale_max,
            command.higher_is_better,
        )
        question = check(_question, command.question)
    repository = SurveyRepository(session)
    if await repository.newest(workspace_id, key) is not None:
        raise ValidationFailed("A survey with this key exists; revise it instead.", field="key")
    definition = _definition(workspace_id, key, 1, scale, question)
    return await _store(session, repository, definition, AuditAction.SURVEY_DEFINITION_CREATE, None)


async def revise_survey_definition(
    session: AsyncSession, access: Access, command: ReviseSurveyDefinition
) -> SurveyDefinition:
    """A new version of the key, unless nothing changes (then the newest one)."""
    repository = SurveyRepository(session)
    named = await repository.get(command.definition_id)
    if named is None or access.workspace_role(named.workspace_id) is None:
        raise NotFound("Survey definition", field="id")
    access.require_workspace(named.workspace_id, WorkspaceRole.EDITOR, field="id")
    newest = await repository.newest(named.workspace_id, named.key)
    assert newest is not None  # the one named, at least
    with Checks() as check:  # in the input's order: the question, then the scale
        question = (
            newest.question if command.question is UNSET else check(_question, command.question)
        )
        scale = check(
            checked_scale,
            newest.measure,
            newest.scale_min if command.scale_min is UNSET else command.scale_min,
            newest.scale_max if command.scale_max is UNSET else command.scale_max,
            newest.higher_is_better
            if command.higher_is_better is UNSET
            else command.higher_is_better,
        )
    if scale == scale_of(newest) and question == newest.question:
        # Recorded all the same (every write is), with nothing changed.
        await _audit(session, AuditAction.SURVEY_DEFINITION_REVISE, newest, newest)
        return newest
    definition = _definition(newest.workspace_id, newest.key, newest.version + 1, scale, question)
    return await _store(
        session, repository, definition, AuditAction.SURVEY_DEFINITION_REVISE, newest
    )


def _definition(
    workspace_id: UUID, key: str, version: int, scale: Scale, question: str
) -> SurveyDefinition:
    return SurveyDefinition(
        workspace_id=workspace_id,
        key=key,
        version=version,
        measure=scale.kind,
        scale_min=scale.low,
        scale_max=scale.high,
        higher_is_better=scale.higher_is_better,
        question=question,
    )


async def _store(
    session: AsyncSession,
    repository: SurveyRepository,
    definition: SurveyDefinition,
    action: AuditAction,
    previous: SurveyDefinition | None,
) -> SurveyDefinition:
    try:
        async with session.begin_nested():
            await repository.add(definition)
    except IntegrityError:  # the same key and version written at the same moment
        raise Conflict(
            "This survey was changed at the same moment; try again.", field="key"
        ) from None
    await _audit(session, action, previous, definition)
    await outbox.emit(
        session,
        definition.workspace_id,
        "survey_definition.changed",
        {"survey_definition_id": str(definition.id), "key": definition.key},
    )
    return definition


async def _audit(
    session: AsyncSession,
    action: AuditAction,
    previous: SurveyDefinition | None,
    definition: SurveyDefinition,
) -> None:
    await audit.record(
        session,
        workspace_id=definition.workspace_id,
        action=action,
        subject_type="SurveyDefinition",
        subject_id=definition.id,
        changes=changes_of(_snapshot(previous) if previous else {}, _snapshot(definition)),
    )


async def survey_definitions(
    session: AsyncSession, workspace_id: UUID, key: str | None = None
) -> Sequence[SurveyDefinition]:
    """The newest version of every key, or, for one key, all its versions newest first."""
    repository = SurveyRepository(session)
    if key is None:
        return await repository.latest_versions(workspace_id)
    return await repository.versions(workspace_id, key)


async def newest_of_keys(
    session: AsyncSession, workspace_id: UUID, keys: set[str]
) -> dict[str, SurveyDefinition]:
    """What each key a batch names stands for now (keys nobody defined are left out)."""
    return await SurveyRepository(session).newest_of_keys(workspace_id, keys)
