"""Themes read from verbatims as a CX lead would tag them by hand, and the bounded read
that feeds them (one statement, the newest texts, the score's window)."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count
from uuid import UUID, uuid4

from backend.db.engine import Database
from backend.db.types import utcnow
from backend.health import guidance
from backend.health.repository import verbatims
from backend.health.themes import Theme, Themes, Verbatim, themes
from backend.models import Feedback, HealthSubject
from backend.vocabulary.feedback import FeedbackSource, SentimentStatus
from tests.fixtures.tenants import Tenant
from tests.health.worlds import World, build_world

_serial = count()


def _said(
    *texts: str, sentiment: float | None = -0.5, language: str | None = None
) -> list[Verbatim]:
    return [Verbatim(uuid4(), text, sentiment, language) for text in texts]


def _phrases(found: tuple[Theme, ...]) -> dict[str, int]:
    return {theme.phrase: theme.count for theme in found}


def test_three_ways_of_saying_hold_are_one_theme_of_three_items() -> None:
    found = themes(_said("waited 40 minutes on hold", "hold time", "on hold again"))
    assert _phrases(found.negative) == {"hold": 3}
    assert found.positive == ()


def test_themes_are_counted_per_item_and_split_by_sentiment() -> None:
    negative = _said(
        "I waited 40 minutes on hold, again.",
        "Hold time is awful",
        "Great, another hour on hold",  # sarcasm the scorer read as negative
        "The parcel arrived damaged",
        "Parcel damaged, box crushed",
        "Refund took three weeks",
        "Still waiting for my refund!!",
        "Refunds are a joke here",
    )
    positive = _said(
        "Lovely staff, very friendly",
        "The staff were so helpful",
        "Quick delivery, thanks",
        "Delivery was fast",
        sentiment=0.7,
    )
    found = themes(negative + positive)
    assert _phrases(found.negative) == {"hold": 3, "refund": 3, "parcel": 2}
    assert _phrases(found.positive) == {"staff": 2, "delivery": 2}
    assert found.read == 12
    assert found.unscored == 0


def test_words_that_only_carry_a_feeling_are_not_themes() -> None:
    found = themes(_said("terrible, terrible", "Terrible!", "awful and terrible", "horrible"))
    assert found.negative == ()


def test_unscored_and_neutral_texts_are_in_neither_list() -> None:
    found = themes(
        _said("the checkout page", "checkout page again", "checkout", sentiment=None)
        + _said("checkout page", "the checkout", sentiment=0.0)
    )
    assert found == Themes(negative=(), positive=(), read=5, unscored=3)


def test_one_customer_is_an_anecdote_not_a_theme() -> None:
    found = themes(_said("the invoice was wrong", "hold music is loud", "hold again"))
    assert _phrases(found.negative) == {"hold": 2}


def test_a_theme_shows_its_three_newest_items() -> None:
    said = _said(*(f"on hold for {n} minutes" for n in range(5)))  # newest first
    [theme] = themes(said).negative
    assert theme.count == 5
    assert theme.examples == tuple(v.feedback_id for v in said[:3])


def test_each_text_is_read_with_its_own_language() -> None:
    french = _said(
        "Trop d'attente au téléphone",
        "L'attente était interminable",
        "encore une attente de 30 minutes",
        language="fr",
    )
    english = _said("the wait was long", "a long wait again", language=None)
    found = themes(french + english)
    phrases = _phrases(found.negative)
    assert phrases["attente"] == 3
    assert phrases["wait"] == 2
    assert set(phrases) == {"attente", "wait"}  # no French stopwords ("trop", "au")


async def _texts(
    db: Database,
    world: World,
    *texts: str,
    touchpoint_id: UUID | None,
    stage_id: UUID | None = None,
    occurred_at: datetime,
) -> list[UUID]:
    """Negative, scored feedback texts, written in one transaction."""
    async with db.transaction(world.binding(), write=True) as session:
        rows = [
            Feedback(
                workspace_id=world.workspace_id,
                source=FeedbackSource.SUPPORT_TICKET,
                external_id=f"text-{next(_serial)}",
                journey_map_id=world.map_id,
                stage_id=stage_id,
                touchpoint_id=touchpoint_id,
                text=text,
                sentiment=-0.5,
                sentiment_status=SentimentStatus.SCORED,
                occurred_at=occurred_at,
            )
            for text in texts
        ]
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows]


async def test_a_stage_reads_its_touchpoints_and_its_own_feedback_in_the_window(
    database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    now = utcnow()
    first = world.stage_ids[0]
    [on_stage] = await _texts(
        database, world, "hold", touchpoint_id=world.touchpoint_ids[0], occurred_at=now
    )
    [direct] = await _texts(
        database, world, "hold", touchpoint_id=None, stage_id=first, occurred_at=now
    )
    await _texts(
        database, world, "other stage", touchpoint_id=world.touchpoint_ids[2], occurred_at=now
    )
    await _texts(
        database,
        world,
        "too old",
        touchpoint_id=world.touchpoint_ids[0],
        occurred_at=now - timedelta(days=120),
    )
    async with database.transaction(world.binding()) as session:
        found = await verbatims.recent_texts(
            session, world.workspace_id, HealthSubject.STAGE, first, now
        )
        whole_map = await verbatims.recent_texts(
            session, world.workspace_id, HealthSubject.JOURNEY_MAP, world.map_id, now
        )
    assert {v.feedback_id for v in found} == {on_stage, direct}
    assert len(whole_map) == 3


async def test_reading_themes_is_one_statement_and_bounded_whatever_the_volume(
    database: Database, tenant_a: Tenant, sql_statements: list[str]
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    touchpoint = world.touchpoint_ids[0]
    now = utcnow()

    async def read() -> tuple[Themes, int]:
        sql_statements.clear()
        async with database.transaction(world.binding()) as session:
            found = await guidance.themes_of(
                session, world.workspace_id, HealthSubject.TOUCHPOINT, touchpoint, now
            )
        return found, len([s for s in sql_statements if "FROM feedback" in s])

    await _texts(
        database,
        world,
        *(f"on hold for {n} hours" for n in range(3)),
        touchpoint_id=touchpoint,
        occurred_at=now,
    )
    few, few_reads = await read()
    await _texts(
        database,
        world,
        *(f"hold time {n}" for n in range(verbatims.MAX_TEXTS)),
        touchpoint_id=touchpoint,
        occurred_at=now,
    )
    many, many_reads = await read()
    assert few_reads == many_reads == 1
    assert few.negative[0].count == 3
    assert many.read == verbatims.MAX_TEXTS  # the newest only
    assert many.negative[0].phrase == "hold"
    assert many.negative[0].count == verbatims.MAX_TEXTS


async def test_themes_are_extracted_again_only_when_the_texts_change(
    database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    touchpoint = world.touchpoint_ids[0]
    now = utcnow()

    async def read() -> Themes:
        async with database.transaction(world.binding()) as session:
            return await guidance.themes_of(
                session, world.workspace_id, HealthSubject.TOUCHPOINT, touchpoint, now
            )

    await _texts(
        database, world, "on hold", "hold again", touchpoint_id=touchpoint, occurred_at=now
    )
    first = await read()
    assert await read() is first  # the same texts: the extraction is not run again
    await _texts(database, world, "hold time", touchpoint_id=touchpoint, occurred_at=now)
    again = await read()
    assert again is not first
    assert again.negative[0].count == 3
