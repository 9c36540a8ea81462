"""A worker process that hangs inside a handler until it is killed (for test_resilience.py).

It runs ``workers.background.Background`` with workers, as ``waypost worker``
does (relay, schedule, dramatiq worker), plus one extra outbox handler for a
test event type: the handler writes a marker file (this process's id and the
event's id) and then sleeps far longer than any test, holding its transaction
open. The test waits for the marker and kills the process with SIGKILL.

Configured through the environment: WAYPOST_DATABASE_URL, WAYPOST_BROKER_URL and
WAYPOST_DATABASE_APP_ROLE (read by ``Settings``), SLOW_WORKER_EVENT_TYPE and
SLOW_WORKER_MARKER. Run it as ``python -m tests.workers.slow_worker`` from the
project's root.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.engine import database_from_settings
from backend.models.outbox import OutboxEvent
from backend.outbox.dispatch import subscribe
from backend.settings import Environment, Settings
from workers.background import Background

HANG_SECONDS = 3600.0


async def work(event_type: str, marker: Path) -> None:
    async def hang(_session: AsyncSession, event: OutboxEvent) -> None:
        started = {"pid": os.getpid(), "event_id": str(event.id)}
        partial = marker.with_suffix(".partial")
        partial.write_text(json.dumps(started))
        partial.replace(marker)  # the test never reads a half-written marker
        await asyncio.sleep(HANG_SECONDS)
        marker.with_suffix(".finished").write_text(json.dumps(started))

    subscribe(event_type, hang)
    # This process never redelivers on its own: only its first delivery is in play.
    settings = Settings(env=Environment.TEST, outbox_redeliver_after_seconds=HANG_SECONDS)
    db = database_from_settings(settings)
    try:
        async with Background(settings, db, run_workers=True):
            await asyncio.sleep(HANG_SECONDS)
    finally:
        await db.dispose()


def main() -> None:
    asyncio.run(work(os.environ["SLOW_WORKER_EVENT_TYPE"], Path(os.environ["SLOW_WORKER_MARKER"])))


if __name__ == "__main__":
    main()
