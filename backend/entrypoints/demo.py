"""`waypost demo`: an agency with two client workspaces that look lived in.

Everything goes through the same services the API uses (so the audit trail,
revisions and outbox are real): personas, maps from the five-stage template,
touchpoints with match keys, pain points, twelve thousand feedback items over eleven
months sent in batches the way an ingestion feed would send them, sentiment, metrics,
initiatives, and weekly health passes over the last quarter so the charts have a
history. The feedback tells a story (``STORY``): a holiday season lifts every
touchpoint for the last two months, and of three shipped initiatives one worked, one
did not, and one only looks as if it did, because it shipped as the season began.

The random generator is seeded: every run builds the same world.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import select

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.auth.subject import Operator
from backend.authz.access import Access, load_access
from backend.db.engine import Database
from backend.db.scoping import NO_TENANT
from backend.db.types import utcnow
from backend.feedback import sentiment, surveys
from backend.feedback import service as feedback
from backend.feedback.commands import CreateSurveyDefinition, FeedbackItem, SubmitFeedback
from backend.health import recalculate
from backend.initiatives import service as initiatives
from backend.initiatives.commands import CreateInitiative
from backend.journeys import findings, maps, personas, touchpoints
from backend.journeys.commands import (
    AddPainPoint,
    AddTouchpoint,
    CreateJourneyMap,
    CreatePersona,
    MapFields,
    MatchKeys,
    PainPointFields,
    PersonaFields,
    TouchpointFields,
)
from backend.metrics import service as metrics
from backend.metrics.commands import CreateMetric, Observation, RecordValues
from backend.models import Organization, Stage
from backend.tenancy import service as tenancy
from backend.tenancy.commands import CreateWorkspace
from backend.vocabulary.feedback import MeasureKind
from backend.vocabulary.initiatives import InitiativeStatus
from backend.vocabulary.journeys import Channel, MapStatus, MapTemplate, Severity
from backend.vocabulary.metrics import MetricDirection, MetricSource
from backend.vocabulary.roles import OrganizationKind

ORG_SLUG = "demo"
ADMIN_EMAIL = "admin@demo.example"
FEEDBACK_PER_WORKSPACE = 6_000
HISTORY_WEEKS = 12
SPAN_DAYS = 330  # feedback from the last eleven months
SEASON_DAYS = 60  # the holiday season began this many days ago ...
SEASONAL_LIFT = 0.9  # ... and lifted every touchpoint by this much (rating points)

POSITIVE = [
    "Quick and easy, loved it",
    "Great service, the staff were friendly and helpful",
    "Smooth experience, everything just worked",
    "Really happy with how simple this was",
    "Excellent, fast delivery and good updates",
]
NEUTRAL = ["It was fine", "Nothing special", "Did what I needed", "Okay overall"]
NEGATIVE = [
    "Terrible, the page kept crashing",
    "Slow and confusing, I almost gave up",
    "Awful support, nobody answered for days",
    "The payment failed twice, very frustrating",
    "Bad experience, hidden fees at the end",
]
# The surveys the clients run, as a survey tool defines them: (key, kind, scale, question).
SURVEYS = (
    ("csat-after-visit", "CSAT", 1, 5, "How satisfied were you with this step?"),
    ("nps-relationship", "NPS", 0, 10, "How likely are you to recommend us to a friend?"),
    ("ces-ease", "CES", 1, 7, "It was easy to get what I needed done. (1 disagree - 7 agree)"),
)
SURVEY_KEYS = {kind: key for key, kind, *_ in SURVEYS}

# What customers say at particular touchpoints, so themes have something to find.
SAID: dict[str, dict[str, list[str]]] = {
    "Checkout": {
        "bad": [
            "Checkout kept asking for my address again, so annoying",
            "The checkout page froze when I entered the discount code, frustrating",
            "Checkout failed twice and I had to start over, terrible",
        ],
        "good": ["Checkout was quick, saved address worked"],
    },
    "Payment": {
        "bad": [
            "Card payment declined for no reason, really annoying",
            "Payment page timed out, awful",
        ],
    },
    "Number porting": {
        "bad": [
            "Number porting took five days, no phone all week, terrible",
            "Waited 40 minutes on hold about my number transfer, frustrating",
            "On hold again, the porting is still not done. Awful",
        ],
    },
    "Support line": {
        "bad": ["Another hour on hold, useless", "On hold for ages and then cut off, awful"],
        "good": ["The agent on the support line solved it in minutes"],
    },
    "First bill": {
        "bad": [
            "First bill was higher than the plan price, not happy",
            "Hidden fees on the first bill, disappointing",
        ],
    },
    "Delivery": {
        "bad": [
            "Delivery was two days late, annoying",
            "The courier left the parcel in the rain, awful",
        ],
        "good": ["Delivery came a day early"],
    },
}


@dataclass
class Client:
    """One client workspace's journey, as the seeder knows it."""

    name: str
    map_title: str
    prefix: str
    # Per stage: (touchpoint name, channel, mean rating 1..5, moment of truth).
    stages: dict[str, list[tuple[str, str, float, bool]]]
    touchpoints: dict[str, UUID] = field(default_factory=dict)
    workspace_id: UUID | None = None
    map_id: UUID | None = None


CLIENTS = [
    Client(
        name="Acme Retail",
        map_title="Buying online",
        prefix="acme",
        stages={
            "Awareness": [
                ("Instagram ad", "SOCIAL", 3.6, False),
                ("Search result", "WEB", 3.9, False),
            ],
            "Consideration": [("Product page", "WEB", 4.1, False), ("Reviews", "WEB", 3.8, False)],
            "Purchase": [("Checkout", "WEB", 2.4, True), ("Payment", "WEB", 2.9, True)],
            "Retention": [("Delivery", "MAIL", 3.7, True), ("Order emails", "EMAIL", 3.9, False)],
            "Advocacy": [("Review request", "EMAIL", 3.5, False)],
        },
    ),
    Client(
        name="Globex Telecom",
        map_title="Switching provider",
        prefix="globex",
        stages={
            "Awareness": [("TV spot", "EVENT", 3.4, False), ("Comparison site", "WEB", 3.6, False)],
            "Consideration": [
                ("Plan finder", "WEB", 3.3, False),
                ("Store visit", "IN_STORE", 4.2, True),
            ],
            "Purchase": [
                ("Contract signing", "IN_STORE", 3.9, True),
                ("Number porting", "PHONE", 2.2, True),
            ],
            "Retention": [
                ("First bill", "EMAIL", 2.8, True),
                ("Support line", "PHONE", 2.6, False),
            ],
            "Advocacy": [("Referral offer", "SMS", 3.6, False)],
        },
    ),
]


async def seeded(db: Database) -> bool:
    async with db.transaction(NO_TENANT) as session:
        return (
            await session.scalar(select(Organization.id).where(Organization.slug == ORG_SLUG))
            is not None
        )


async def seed_demo(
    db: Database, *, progress: Callable[[str], None] = lambda _message: None
) -> str:
    """Build the demo agency; returns an API token for its owner."""
    rng = random.Random(20261201)  # noqa: S311 - a reproducible world, not a secret
    now = utcnow()
    async with db.transaction(NO_TENANT, write=True) as session:
        bind_actor(session, Actor.system(request_id="waypost demo"))
        made = await tenancy.bootstrap_organization(
            session,
            org_slug=ORG_SLUG,
            name="Northwind Journeys",
            kind=OrganizationKind.AGENCY,
            admin_email=ADMIN_EMAIL,
            workspace_name=CLIENTS[0].name,
        )
    token = made.token.plaintext
    operator = Operator(user_id=made.admin.id, email=made.admin.email)
    access = await load_access(db, operator)
    async with db.transaction(access.binding(), write=True) as session:
        bind_actor(session, Actor.system(request_id="waypost demo"))
        second = await tenancy.create_workspace(
            session, access, CreateWorkspace(made.organization.id, CLIENTS[1].name)
        )
    access = await load_access(db, operator)
    CLIENTS[0].workspace_id, CLIENTS[1].workspace_id = made.workspace.id, second.id

    for client in CLIENTS:
        progress(f"{client.name}: personas, map, touchpoints")
        await _journey(db, access, client)
        progress(f"{client.name}: {FEEDBACK_PER_WORKSPACE} feedback items")
        await _feedback(db, access, client, rng, now)
        progress(f"{client.name}: metrics and initiatives")
        await _improvement(db, access, client, rng, now)
        progress(f"{client.name}: health, {HISTORY_WEEKS} weeks of history")
        await _history(db, access, client, now)
    return token


def _writer(db: Database, access: Access) -> Any:
    return db.transaction(access.binding(), write=True)


async def _journey(db: Database, access: Access, client: Client) -> None:
    assert client.workspace_id is not None
    async with _writer(db, access) as session:
        bind_actor(session, Actor.system(request_id="waypost demo"))
        people = [
            await personas.create_persona(
                session,
                access,
                CreatePersona(
                    client.workspace_id,
                    PersonaFields(
                        name=name,
                        summary=summary,
                        goals=goals,
                        frustrations=frustrations,
                        segment_share=share,
                    ),
                ),
            )
            for name, summary, goals, frustrations, share in (
                (
                    "Busy parent",
                    "Shops between school runs, mostly on the phone.",
                    ["Get it done in minutes"],
                    ["Forms that forget what I typed"],
                    0.55,
                ),
                (
                    "Careful planner",
                    "Compares everything before committing.",
                    ["No surprises on the bill"],
                    ["Hidden fees", "Vague delivery dates"],
                    0.45,
                ),
            )
        ]
        journey = await maps.create_journey_map(
            session,
            access,
            CreateJourneyMap(
                client.workspace_id,
                MapFields(
                    title=client.map_title,
                    description=f"How {client.name}'s customers go from first sight to fan.",
                    status=MapStatus.ACTIVE,
                    objectives=["Fewer drop-offs", "Higher NPS"],
                ),
                template=MapTemplate.FIVE_STAGE,
                persona_ids=[p.id for p in people],
            ),
        )
        client.map_id = journey.id
        stages = (
            await session.scalars(
                select(Stage).where(Stage.journey_map_id == journey.id).order_by(Stage.position)
            )
        ).all()
        for stage in stages:
            for position, (name, channel, mean, moment) in enumerate(client.stages[stage.name]):
                event = f"{client.prefix}.{name.lower().replace(' ', '_')}"
                touchpoint, _ = await touchpoints.add_touchpoint(
                    session,
                    access,
                    AddTouchpoint(
                        stage.id,
                        TouchpointFields(
                            name=name,
                            channel=Channel(channel),
                            emotion=max(-2, min(2, round(mean - 3))),
                            moment_of_truth=moment,
                            match_keys=MatchKeys(event_names=[event]),
                        ),
                        position=position,
                    ),
                )
                client.touchpoints[name] = touchpoint.id
                if mean < 3:
                    await findings.add_pain_point(
                        session,
                        access,
                        AddPainPoint(
                            touchpoint.id,
                            PainPointFields(
                                title=f"{name} loses people",
                                description="Drop-off and complaints well above the rest.",
                                severity=Severity.HIGH if mean < 2.6 else Severity.MEDIUM,
                            ),
                        ),
                    )


def _rating(rng: random.Random, mean: float) -> int:
    return max(1, min(5, round(rng.gauss(mean, 0.9))))


@dataclass(frozen=True)
class Plan:
    """An initiative of the demo and what it really did to its touchpoint."""

    title: str
    rank: int  # its touchpoint, by mean rating: 0 the worst, -1 the best
    status: InitiativeStatus
    shipped_days_ago: int | None = None
    effect: float = 0.0  # rating points its touchpoint gains once shipped
    impact: int = 3
    effort: int = 3
    confidence: float = 0.5
    reach: int = 1000


# Three shipped initiatives tell the story the health pages should tell: one worked, one
# did not, and one looked as if it worked because the season lifted every touchpoint.
STORY = (
    Plan("Fix {name}", 0, InitiativeStatus.SHIPPED, 150, 0.9, 4, 2, 0.8, 2500),
    Plan("Redesign {name}", 1, InitiativeStatus.SHIPPED, 200, 0.0, 3, 3, 0.6, 1800),
    Plan("Refresh {name}", 2, InitiativeStatus.SHIPPED, SEASON_DAYS, 0.0, 2, 2, 0.5, 900),
    Plan("Simplify {name}", 3, InitiativeStatus.IN_PROGRESS, impact=3, effort=2, reach=1200),
    Plan("Personalise {name}", -1, InitiativeStatus.IDEA, impact=2, effort=1, reach=900),
)


def _ranked(client: Client) -> list[str]:
    """The client's touchpoints from the worst mean rating to the best."""
    found = [(name, mean) for stage in client.stages.values() for name, _, mean, _ in stage]
    return [name for name, _ in sorted(found, key=lambda t: t[1])]


def _season(days_ago: float) -> float:
    """The holiday season: every touchpoint feels better for the last SEASON_DAYS days."""
    return SEASONAL_LIFT if days_ago < SEASON_DAYS else 0.0


def _item(
    rng: random.Random, client: Client, n: int, name: str, mean: float, at: datetime
) -> FeedbackItem:
    rating = _rating(rng, mean)
    kind = rng.choices(["CSAT", "NPS", "CES", None], weights=[50, 25, 15, 10])[0]
    value = {
        "CSAT": rating,
        "NPS": min(10, max(0, round((rating - 1) * 2.5 + rng.uniform(-1, 1)))),
        # CES 2.0: "it was easy to ..." from 1 (strongly disagree) to 7 (strongly agree).
        "CES": min(7, max(1, round(rating * 1.4))),
        None: None,
    }[kind]
    text = ""
    if kind is None or rng.random() < 0.4:
        said = SAID.get(name, {})
        if rating >= 4:
            text = rng.choice(said.get("good", POSITIVE) + POSITIVE)
        elif rating <= 2:
            text = rng.choice(said.get("bad", NEGATIVE) + NEGATIVE)
        else:
            text = rng.choice(NEUTRAL)
    return FeedbackItem(
        source=rng.choice(["SURVEY", "SURVEY", "REVIEW", "SUPPORT_TICKET", "SOCIAL"]),
        external_id=f"{client.prefix}-{n:06d}",
        channel=None,
        journey_map_id=None,
        stage_id=None,
        touchpoint_id=None,
        persona_id=None,
        measure=kind,
        measure_value=value,
        text=text,
        tags=[],
        customer_ref=f"cust-{rng.randrange(1, 4000):05d}",
        event_name=f"{client.prefix}.{name.lower().replace(' ', '_')}",
        url=None,
        survey_id=None,
        survey_key=SURVEY_KEYS[kind] if kind else None,
        occurred_at=at,
    )


async def _feedback(
    db: Database, access: Access, client: Client, rng: random.Random, now: datetime
) -> None:
    assert client.workspace_id is not None
    touchpoints = [(name, mean) for stage in client.stages.values() for name, _, mean, _ in stage]
    ranked = _ranked(client)
    effects = {
        ranked[plan.rank]: (now - timedelta(days=plan.shipped_days_ago), plan.effect)
        for plan in STORY
        if plan.shipped_days_ago is not None and plan.effect
    }
    async with _writer(db, access) as session:
        bind_actor(session, Actor.system(request_id="waypost demo"))
        for key, kind, low, high, question in SURVEYS:
            await surveys.create_survey_definition(
                session,
                access,
                CreateSurveyDefinition(
                    client.workspace_id, key, MeasureKind(kind), low, high, question=question
                ),
            )
    items = []
    for n in range(FEEDBACK_PER_WORKSPACE):
        # Busier touchpoints early in the journey; feedback all year round.
        name, mean = rng.choices(touchpoints, weights=[3, 3, 2, 2, 3, 2, 2, 2, 2])[0]
        days_ago = rng.uniform(0, SPAN_DAYS)
        at = now - timedelta(days=days_ago)
        mean += _season(days_ago)
        shipped = effects.get(name)
        if shipped is not None and at > shipped[0]:
            mean += shipped[1]
        items.append(_item(rng, client, n, name, mean, at))
    for start in range(0, len(items), feedback.MAX_BATCH):
        async with _writer(db, access) as session:
            bind_actor(session, Actor.system(request_id="waypost demo"))
            batch = await feedback.submit(
                session,
                access,
                SubmitFeedback(client.workspace_id, items[start : start + feedback.MAX_BATCH]),
            )
            await sentiment.score_feedback(
                session, client.workspace_id, [r.feedback.id for r in batch.items if r.feedback]
            )


async def _improvement(
    db: Database, access: Access, client: Client, rng: random.Random, now: datetime
) -> None:
    assert client.workspace_id is not None
    assert client.map_id is not None
    ranked = _ranked(client)
    async with _writer(db, access) as session:
        bind_actor(session, Actor.system(request_id="waypost demo"))
        conversion = await metrics.create_metric(
            session,
            access,
            CreateMetric(
                workspace_id=client.workspace_id,
                name="Journey completion",
                unit="%",
                direction=MetricDirection.HIGHER_IS_BETTER,
                target=45.0,
                journey_map_id=client.map_id,
            ),
        )
        await metrics.record_values(
            session,
            access,
            RecordValues(
                conversion.id,
                tuple(
                    Observation(
                        round(31 + month * 2.2 + rng.uniform(-1, 1), 1),
                        now - timedelta(days=30 * (10 - month)),
                    )
                    for month in range(11)
                ),
                MetricSource.IMPORT,
            ),
        )
        for plan in STORY:
            name = ranked[plan.rank]
            shipped = plan.shipped_days_ago
            await initiatives.create_initiative(
                session,
                access,
                CreateInitiative(
                    workspace_id=client.workspace_id,
                    title=plan.title.format(name=name.lower()),
                    status=plan.status,
                    owner_id=access.user_id,
                    department="Digital",
                    impact=plan.impact,
                    effort=plan.effort,
                    confidence=plan.confidence,
                    reach=plan.reach,
                    touchpoint_ids=(client.touchpoints[name],),
                    target_metric_id=conversion.id,
                    baseline=31.0,
                    target=45.0,
                    shipped_at=None if shipped is None else now - timedelta(days=shipped),
                ),
            )


async def _history(db: Database, access: Access, client: Client, now: datetime) -> None:
    """Weekly full passes as of past dates, then one now: snapshots for the charts."""
    assert client.workspace_id is not None
    for weeks_ago in range(HISTORY_WEEKS, -1, -1):
        async with _writer(db, access) as session:
            await recalculate.recalculate(
                session, client.workspace_id, full=True, as_of=now - timedelta(weeks=weeks_ago)
            )
