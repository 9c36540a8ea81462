"""Mutations: submitFeedback, submitFeedbackBatch, placeFeedback, ingestion tokens, and
survey definitions."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from backend.errors import DomainError
from backend.feedback import ingestion, queue, service, surveys
from backend.feedback.commands import ItemInput, SubmitFeedback, Unreadable
from graphql_schema.context import Info
from graphql_schema.errors import UserError
from graphql_schema.feedback.inputs import (
    CreateIngestionTokenInput,
    FeedbackItemInput,
    PlaceFeedbackInput,
    RevokeIngestionTokenInput,
    SubmitFeedbackBatchInput,
    SubmitFeedbackInput,
    item_command,
)
from graphql_schema.feedback.surveys import (
    CreateSurveyDefinitionInput,
    ReviseSurveyDefinitionInput,
    SurveyDefinitionPayload,
    SurveyDefinitionType,
)
from graphql_schema.feedback.types import (
    FeedbackItemResultType,
    FeedbackType,
    IngestionTokenType,
)
from graphql_schema.mutations import run_mutation
from graphql_schema.permissions import EDITOR, WORKSPACE_ADMIN, mutation
from graphql_schema.relay import parse_id


@strawberry.type
class SubmitFeedbackPayload:
    feedback: FeedbackType | None = None
    duplicate: bool | None = strawberry.field(
        default=None, description="True when this source and external id were already in."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SubmitFeedbackBatchPayload:
    accepted: int | None = None
    duplicates: int | None = None
    rejected: int | None = None
    results: list[FeedbackItemResultType] | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _read(item: FeedbackItemInput) -> ItemInput:
    """The item's command; one with a malformed id is rejected in its place."""
    try:
        return item_command(item)
    except DomainError as error:
        return Unreadable(error)


@strawberry.type
class CreateIngestionTokenPayload:
    ingestion_token: IngestionTokenType | None = None
    token: str | None = strawberry.field(
        default=None, description="The secret. Shown this once; store it now."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RevokeIngestionTokenPayload:
    ingestion_token: IngestionTokenType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PlaceFeedbackPayload:
    feedback: FeedbackType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class FeedbackMutations:
    @mutation(
        WORKSPACE_ADMIN,
        "A key for sending this workspace's feedback over HTTP (POST /ingest/v1/feedback); "
        "it can do nothing else.",
    )
    async def create_ingestion_token(
        self, info: Info, input: CreateIngestionTokenInput
    ) -> CreateIngestionTokenPayload:
        async def action(session: AsyncSession) -> CreateIngestionTokenPayload:
            issued = await ingestion.create_token(
                session,
                info.context.access,
                parse_id(input.workspace_id, "Workspace", field="workspace_id"),
                input.name,
            )
            return CreateIngestionTokenPayload(
                ingestion_token=IngestionTokenType.from_model(issued.token), token=issued.secret
            )

        return await run_mutation(info, CreateIngestionTokenPayload, action)

    @mutation(WORKSPACE_ADMIN, "Revoke an ingestion token: its next request is refused.")
    async def revoke_ingestion_token(
        self, info: Info, input: RevokeIngestionTokenInput
    ) -> RevokeIngestionTokenPayload:
        async def action(session: AsyncSession) -> RevokeIngestionTokenPayload:
            token = await ingestion.revoke_token(
                session, info.context.access, parse_id(input.id, "IngestionToken", field="id")
            )
            return RevokeIngestionTokenPayload(ingestion_token=IngestionTokenType.from_model(token))

        return await run_mutation(info, RevokeIngestionTokenPayload, action)

    @mutation(EDITOR, "Take in one piece of feedback; sending it again changes nothing.")
    async def submit_feedback(
        self, info: Info, input: SubmitFeedbackInput
    ) -> SubmitFeedbackPayload:
        async def action(session: AsyncSession) -> SubmitFeedbackPayload:
            workspace_id = parse_id(input.workspace_id, "Workspace", field="workspace_id")
            batch = await service.submit(
                session,
                info.context.access,
                SubmitFeedback(workspace_id, [_read(input.item)], all_or_nothing=True),
                locate=lambda _index: "item",
            )
            [result] = batch.items
            assert result.feedback is not None
            return SubmitFeedbackPayload(
                feedback=FeedbackType.from_model(result.feedback),
                duplicate=result.status is service.Status.DUPLICATE,
            )

        return await run_mutation(info, SubmitFeedbackPayload, action)

    @mutation(
        EDITOR,
        "Take in up to 1,000 items: each is accepted, a duplicate, or rejected with its "
        "errors; the good ones are kept unless allOrNothing.",
    )
    async def submit_feedback_batch(
        self, info: Info, input: SubmitFeedbackBatchInput
    ) -> SubmitFeedbackBatchPayload:
        async def action(session: AsyncSession) -> SubmitFeedbackBatchPayload:
            workspace_id = parse_id(input.workspace_id, "Workspace", field="workspace_id")
            command = SubmitFeedback(
                workspace_id,
                [_read(item) for item in input.items],
                all_or_nothing=input.all_or_nothing,
            )
            batch = await service.submit(session, info.context.access, command)
            return SubmitFeedbackBatchPayload(
                accepted=batch.count(service.Status.ACCEPTED),
                duplicates=batch.count(service.Status.DUPLICATE),
                rejected=batch.count(service.Status.REJECTED),
                results=[
                    FeedbackItemResultType(
                        index=r.index,
                        status=r.status,
                        feedback=FeedbackType.from_model(r.feedback) if r.feedback else None,
                        errors=[UserError.from_domain(e) for e in r.errors],
                    )
                    for r in batch.items
                ],
            )

        return await run_mutation(info, SubmitFeedbackBatchPayload, action)

    @mutation(
        EDITOR,
        "Put an unplaced item on a touchpoint: it counts there from now on (its health "
        "is recalculated) and leaves the unplaced queue.",
    )
    async def place_feedback(self, info: Info, input: PlaceFeedbackInput) -> PlaceFeedbackPayload:
        async def action(session: AsyncSession) -> PlaceFeedbackPayload:
            placed = await queue.place_feedback(session, info.context.access, input.to_command())
            return PlaceFeedbackPayload(feedback=FeedbackType.from_model(placed))

        return await run_mutation(info, PlaceFeedbackPayload, action)

    @mutation(EDITOR, "A survey question feedback can name by key (version 1).")
    async def create_survey_definition(
        self, info: Info, input: CreateSurveyDefinitionInput
    ) -> SurveyDefinitionPayload:
        async def action(session: AsyncSession) -> SurveyDefinitionPayload:
            made = await surveys.create_survey_definition(
                session, info.context.access, input.to_command()
            )
            return SurveyDefinitionPayload(survey_definition=SurveyDefinitionType.from_model(made))

        return await run_mutation(info, SurveyDefinitionPayload, action)

    @mutation(
        EDITOR,
        "A new version of a survey (new wording, scale or direction); answers already in "
        "keep the version they named.",
    )
    async def revise_survey_definition(
        self, info: Info, input: ReviseSurveyDefinitionInput
    ) -> SurveyDefinitionPayload:
        async def action(session: AsyncSession) -> SurveyDefinitionPayload:
            made = await surveys.revise_survey_definition(
                session, info.context.access, input.to_command()
            )
            return SurveyDefinitionPayload(survey_definition=SurveyDefinitionType.from_model(made))

        return await run_mutation(info, SurveyDefinitionPayload, action)
