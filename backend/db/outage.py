"""The database's outage log, shared by the API and the workers of one process: a lost
database is one warning when it goes and one when a new connection succeeds again, not
a traceback per failed request or message."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.outage import OutageLog, is_unreachable

DATABASE_OUTAGE = OutageLog(
    logging.getLogger("waypost.db"),
    stopped="database unreachable (%s: %s); requests and messages needing it fail "
    "until it answers again",
    resumed="database answers again, after %.0f s and %d failed requests or messages",
)


def report_if_unreachable(error: BaseException) -> bool:
    """Count ``error`` towards the database outage if it is a lost connection (True),
    so the caller does not log a traceback for it; False for anything else."""
    if not is_unreachable(error):
        return False
    DATABASE_OUTAGE.failed(error)
    return True


def watch(engine: AsyncEngine) -> None:
    """A new connection that the server accepted ends an outage."""

    @event.listens_for(engine.sync_engine, "connect")
    def _connected(_dbapi_connection: Any, _record: Any) -> None:
        DATABASE_OUTAGE.succeeded()
