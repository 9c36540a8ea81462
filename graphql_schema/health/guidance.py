"""Guidance beside a score: its themes, its gap to the target, the work that addresses it.

Field functions that ``HealthExplanation`` and ``HealthDriver`` wire in, one line each;
they read the subject from their root and call health's reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Self
from uuid import UUID

import strawberry

from backend.db.types import utcnow
from backend.health import guidance, target, themes
from backend.models import HealthSubject
from graphql_schema.context import Info
from graphql_schema.loaded import lazy_type
from graphql_schema.relay import decode_global_id

if TYPE_CHECKING:
    from graphql_schema.feedback.types import FeedbackType
    from graphql_schema.health.types import HealthDriverType, HealthExplanationType
    from graphql_schema.initiatives.types import InitiativeType
    from graphql_schema.journeys.types import PainPointType

# Lazy: these modules import health's types (a touchpoint shows its health).
Feedback = Annotated["FeedbackType", strawberry.lazy("graphql_schema.feedback.types")]
PainPoint = Annotated["PainPointType", strawberry.lazy("graphql_schema.journeys.types")]
Initiative = Annotated["InitiativeType", strawberry.lazy("graphql_schema.initiatives.types")]


@dataclass(frozen=True)
class About:
    """The scored subject an explanation is about."""

    workspace_id: UUID
    kind: HealthSubject
    subject_id: UUID
    score: float | None  # None: too little evidence for a score


@strawberry.type(name="HealthTheme", description="Something customers talk about.")
class HealthThemeType:
    phrase: str
    count: int = strawberry.field(description="How many feedback items mention it.")
    example_ids: strawberry.Private[tuple[UUID, ...]]

    @classmethod
    def of(cls, theme: themes.Theme) -> Self:
        return cls(phrase=theme.phrase, count=theme.count, example_ids=theme.examples)

    @strawberry.field(description="Up to three of those items, newest first.")
    async def examples(self, info: Info) -> list[Feedback]:
        feedback_type: type[FeedbackType] = lazy_type(Feedback)
        return await feedback_type.linked_many(info, self.example_ids)


@strawberry.type(
    name="HealthThemes",
    description="What customers talk about in the most recent texts of the score's window, "
    "split by sentiment. Texts whose sentiment could not be scored are in neither list.",
)
class HealthThemesType:
    negative: list[HealthThemeType] = strawberry.field(description="Most mentioned first.")
    positive: list[HealthThemeType] = strawberry.field(description="Most mentioned first.")
    texts_read: int = strawberry.field(description="Feedback texts read (the newest 200 at most).")
    unscored: int = strawberry.field(description="Of those, texts with no sentiment score.")

    @classmethod
    def of(cls, found: themes.Themes) -> Self:
        return cls(
            negative=[HealthThemeType.of(t) for t in found.negative],
            positive=[HealthThemeType.of(t) for t in found.positive],
            texts_read=found.read,
            unscored=found.unscored,
        )


async def target_for(info: Info, workspace_id: UUID) -> float | None:
    """The target the workspace's admin set; None: the default applies."""
    row = await info.context.loaders.health.settings_by_workspace.load(workspace_id)
    return None if row is None else row.target_score


@strawberry.field(description="Top negative and positive themes of its feedback texts.")
async def explanation_themes(root: HealthExplanationType, info: Info) -> HealthThemesType | None:
    about = root.about
    if about is None:
        return None
    async with info.context.read() as session:
        found = await guidance.themes_of(
            session, about.workspace_id, about.kind, about.subject_id, utcnow()
        )
    return HealthThemesType.of(found)


@strawberry.field(
    description="The workspace's target score (75 until an admin sets one in its health settings)."
)
async def explanation_target(root: HealthExplanationType, info: Info) -> float | None:
    if root.about is None:
        return None
    return target.effective(await target_for(info, root.about.workspace_id))


@strawberry.field(
    description="Target minus score: + is that many points short of it; null without a score."
)
async def explanation_gap(root: HealthExplanationType, info: Info) -> float | None:
    about = root.about
    if about is None:
        return None
    return target.gap(about.score, target.effective(await target_for(info, about.workspace_id)))


def _subject(root: HealthExplanationType | HealthDriverType) -> tuple[HealthSubject, UUID] | None:
    about = getattr(root, "about", None)
    if isinstance(about, About):
        return about.kind, about.subject_id
    kind, given = getattr(root, "kind", None), str(getattr(root, "subject_id", ""))
    decoded = decode_global_id(given)
    if not isinstance(kind, HealthSubject):
        return None
    if decoded is not None:
        return kind, decoded[1]
    try:  # a driver that names its subject by its plain id
        return kind, UUID(given)
    except ValueError:
        return None


async def _pain_points(
    root: HealthExplanationType | HealthDriverType, info: Info
) -> list[PainPoint]:
    subject = _subject(root)
    if subject is None:
        return []
    links = await info.context.loaders.health.links_by_subject.load(subject)
    pain_point_type: type[PainPointType] = lazy_type(PainPoint)
    return [pain_point_type.from_model(p) for p in links.pain_points]


async def _initiatives(
    root: HealthExplanationType | HealthDriverType, info: Info
) -> list[Initiative]:
    subject = _subject(root)
    if subject is None:
        return []
    links = await info.context.loaders.health.links_by_subject.load(subject)
    initiative_type: type[InitiativeType] = lazy_type(Initiative)
    return [initiative_type.from_model(i) for i in links.initiatives]


# Factories: a strawberry field belongs to one type, and two types carry these.
def pain_points() -> Any:
    return strawberry.field(
        resolver=_pain_points,
        description="The open pain points on it (on its touchpoints), most severe first.",
    )


def initiatives() -> Any:
    return strawberry.field(
        resolver=_initiatives,
        description="Initiatives (not cancelled) naming it, its touchpoints or their pain "
        "points, highest priority first; their status and shippedAt say where the work stands.",
    )
